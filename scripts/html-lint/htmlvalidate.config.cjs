/*
 * html-validate config for the rendered emails (MJML -> mrml -> HTML).
 *
 *   scripts/html-lint/node_modules/.bin/html-validate \
 *     --config scripts/html-lint/htmlvalidate.config.cjs FILE.html
 *
 * Starts from html-validate:recommended and turns off only what email HTML
 * must do on purpose. Everything that catches real bugs stays on: unclosed or
 * misnested elements (close-order, no-implicit-close), duplicate ids
 * (no-dup-id), invalid ids/attribute values (valid-id,
 * attribute-allowed-values), missing alt (wcag/h37), invalid nesting
 * (element-permitted-*), raw `&`/`<` (no-raw-characters), unknown elements
 * (element-name: a misspelt <mj-*> tag that leaks through), deprecated
 * elements (deprecated: <font>, <center>, <marquee>).
 */
"use strict";

/*
 * Element metadata on top of html5. Two kinds of change:
 *  - tighter: html-validate's html5 metadata lets <td>/<tr> stand in any flow
 *    content (e.g. <td> inside a <div>); HTML only allows them in a table.
 *  - values for the presentational table attributes that email needs: with
 *    no-deprecated-attr off, these still get their values checked (a typo
 *    like align="middel" or bgcolor="#ffff" fails attribute-allowed-values).
 */
function emailElements() {
  const num = "/^\\d+$/";
  const length = "/^\\d+%?$/"; // width="600", width="100%"
  const color = "/^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|[a-zA-Z]+)$/";
  const halign = ["left", "center", "right", "justify", "char"];
  const valign = ["top", "middle", "bottom", "baseline"];
  const cell = {
    permittedParent: ["tr"],
    attributes: {
      align: { enum: halign },
      valign: { enum: valign },
      bgcolor: { enum: [color] },
      width: { enum: [length] },
      height: { enum: [length] },
    },
  };
  const group = {
    permittedParent: ["table"],
    attributes: { align: { enum: halign }, valign: { enum: valign } },
  };
  return {
    table: {
      attributes: {
        align: { enum: ["left", "center", "right"] },
        bgcolor: { enum: [color] },
        border: { enum: [num] },
        cellpadding: { enum: [length] },
        cellspacing: { enum: [length] },
        width: { enum: [length] },
      },
    },
    thead: group,
    tbody: group,
    tfoot: group,
    tr: {
      permittedParent: ["table", "thead", "tbody", "tfoot"],
      attributes: {
        align: { enum: halign },
        valign: { enum: valign },
        bgcolor: { enum: [color] },
      },
    },
    td: cell,
    th: cell,
    // MJML/mrml write <img height="auto"> (mj-image without a height) so
    // Outlook does not stretch the picture; HTML wants a number there.
    // Allow exactly that one extra value; other bad values still fail.
    img: { attributes: { height: { enum: [num, "auto"] } } },
  };
}

module.exports = {
  // Ignore any .htmlvalidate.* found beside the linted file.
  root: true,
  extends: ["html-validate:recommended"],
  elements: ["html5", emailElements()],
  rules: {
    // Inline style="" is the only styling every mail client keeps (Gmail,
    // Outlook strip or ignore much of <style>); MJML puts all layout there.
    "no-inline-style": "off",

    // <!--[if mso | IE]> ... <![endif]--> is how MJML/mrml give Outlook
    // (Word engine) its fixed-width ghost tables; they are meant to be there.
    "no-conditional-comment": "off",

    // Table layout needs align, valign, width, bgcolor, cellpadding,
    // cellspacing, border on <table>/<td>: Outlook ignores the CSS
    // equivalents. The rule has no per-attribute option, so it is off as a
    // whole; attribute *values* are still checked by attribute-allowed-values.
    "no-deprecated-attr": "off",

    // mrml writes <!doctype html> in lower case; case is style, not a bug.
    "doctype-style": "off",

    // mrml emits void elements as <meta ... /> / <br /> in places and the
    // templates mix both; either form is valid HTML. (Self-closing NON-void
    // elements, e.g. <div/>, are still caught by no-self-closing.)
    "void-style": "off",

    // mrml wraps the body in <div role="article" aria-roledescription="email">
    // (the email-accessibility convention, since <article> is stripped or
    // unstyled by some clients). Only the "article" role is allowed;
    // role="button", "link", "table", ... still get reported.
    "prefer-native-element": ["error", { exclude: ["article"] }],

    // <title> is the subject line ("N new on topic, topic +M more"); the
    // 70-character limit is a search-engine rule, not an email one.
    "long-title": "off",

    // Not in "recommended"; on here because a misspelt or unsupported <mj-*>
    // tag can leak through the MJML renderer as an unknown element.
    "no-unknown-elements": "error",
  },
};
