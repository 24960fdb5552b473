use std::fmt;

/// An email address we can deliver to, normalised so that one mailbox is one
/// subscriber: lower-cased, the domain in its ASCII (IDNA) form.
///
/// Accepted is what any relay takes without extensions: an ASCII dot-atom
/// before the `@` (no quoted strings; a non-ASCII local part would need
/// SMTPUTF8, which many relays refuse) and a host name with a dot after it
/// (no IP literals). The result is also a valid lettre address, so anything
/// accepted here at subscribe time can be put on the wire at send time.
///
/// Local parts are case-sensitive in theory and never in practice; treating
/// `Ada@x` and `ada@x` as two subscribers would let one person subscribe
/// twice and make unsubscribing fragile, so the whole address is lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(lettre::Address);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{input:?} is not a valid email address ({reason})")]
pub struct EmailAddressError {
    input: String,
    reason: String,
}

impl EmailAddressError {
    /// What was typed.
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is wrong with it.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// RFC 5322 `atext`, besides ASCII letters and digits.
const ATEXT_SYMBOLS: &str = "!#$%&'*+/=?^_`{|}~-";

impl EmailAddress {
    /// An address any relay takes: ASCII before the `@`.
    pub fn parse(input: &str) -> Result<Self, EmailAddressError> {
        Self::parse_with(input, false)
    }

    /// Also allows letters of any script before the `@` (`jöhn@…`), which
    /// only a relay with SMTPUTF8 delivers (`delivery.smtp.smtputf8`).
    pub fn parse_international(input: &str) -> Result<Self, EmailAddressError> {
        Self::parse_with(input, true)
    }

    fn parse_with(input: &str, international: bool) -> Result<Self, EmailAddressError> {
        let trimmed = input.trim();
        let fail = |reason: &str| EmailAddressError {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if trimmed.len() > 254 {
            return Err(fail("longer than 254 characters"));
        }
        let (user, domain) = trimmed
            .rsplit_once('@')
            .ok_or_else(|| fail("it has no @"))?;
        if user.is_empty() || user.len() > 64 {
            return Err(fail("the part before @ must have 1 to 64 characters"));
        }
        if !international && !user.is_ascii() {
            return Err(fail(
                "the part before @ has non-ASCII characters, which this server's mail relay cannot deliver (delivery.smtp.smtputf8 is off)",
            ));
        }
        let atom_ok = |atom: &str| {
            !atom.is_empty()
                && atom.chars().all(|c| {
                    c.is_ascii_alphanumeric()
                        || ATEXT_SYMBOLS.contains(c)
                        || (!c.is_ascii() && c.is_alphanumeric())
                })
        };
        if !user.split('.').all(atom_ok) {
            return Err(fail(
                "the part before @ may only have letters, digits, dots (not at the ends or twice in a row) and !#$%&'*+/=?^_`{|}~-",
            ));
        }
        let domain = normalise_domain(domain).map_err(fail)?;
        let address =
            lettre::Address::new(user.to_lowercase(), domain).map_err(|e| fail(&e.to_string()))?;
        Ok(Self(address))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    pub fn as_lettre(&self) -> &lettre::Address {
        &self.0
    }

    /// The part after the `@`, in its ASCII form.
    pub fn domain(&self) -> &str {
        self.0.domain()
    }

    /// The mailbox this address delivers to: the address without its
    /// `+tag` (`ada+1@x` and `ada+2@x` reach Ada's one inbox at nearly every
    /// provider and by default in Postfix and Exim), and for Gmail also
    /// without dots and with `googlemail.com` as `gmail.com`, as Gmail
    /// delivers them. What a stranger could send to one person is counted
    /// per mailbox, so sub-addresses cannot multiply it.
    pub fn mailbox(&self) -> String {
        let (user, domain) = self
            .as_str()
            .rsplit_once('@')
            .expect("a parsed address has an @");
        let user = user.split_once('+').map_or(user, |(base, _)| base);
        match domain {
            "gmail.com" | "googlemail.com" => format!("{}@gmail.com", user.replace('.', "")),
            _ => format!("{user}@{domain}"),
        }
    }
}

/// `Bücher.Example` → `xn--bcher-kva.example`; refuses IP literals, names
/// without a dot and labels that are not host-name labels.
fn normalise_domain(domain: &str) -> Result<String, &'static str> {
    if domain.starts_with('[') {
        return Err("an IP address instead of a domain cannot receive our mail");
    }
    let ascii = idna::domain_to_ascii(domain)
        .map_err(|_| "the domain is not a valid international domain name")?;
    if ascii.len() > 253 {
        return Err("the domain is longer than 253 characters");
    }
    if !ascii.contains('.') && ascii != "localhost" {
        return Err("the domain has no dot");
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if !ascii.split('.').all(label_ok) {
        return Err("the domain may only have letters, digits, hyphens and dots");
    }
    if ascii
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("an IP address instead of a domain cannot receive our mail");
    }
    Ok(ascii)
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_mailbox_is_one_address_whatever_its_spelling() {
        let a = EmailAddress::parse(" Ada.Lovelace+ml@Example.ORG ").unwrap();
        assert_eq!(a.as_str(), "ada.lovelace+ml@example.org");
        assert_eq!(
            EmailAddress::parse("Case@x.org"),
            EmailAddress::parse("case@X.org")
        );
    }

    #[test]
    fn sub_addresses_and_gmail_spellings_share_one_mailbox() {
        let mailbox = |a: &str| EmailAddress::parse(a).unwrap().mailbox();
        assert_eq!(mailbox("Victim+1@Example.org"), "victim@example.org");
        assert_eq!(mailbox("victim+a+b@example.org"), "victim@example.org");
        assert_eq!(mailbox("v.i.c.t.i.m+x@googlemail.com"), "victim@gmail.com");
        // Dots are the address elsewhere.
        assert_eq!(mailbox("v.ictim@example.org"), "v.ictim@example.org");
    }

    #[test]
    fn international_domains_are_stored_in_their_ascii_form() {
        let a = EmailAddress::parse("li@Bücher.Example").unwrap();
        assert_eq!(a.as_str(), "li@xn--bcher-kva.example");
    }

    #[test]
    fn rejects_malformed_addresses_with_a_reason() {
        for bad in [
            "",
            "plainaddress",
            "a@b",
            "@example.org",
            "a b@example.org",
            "a@@example.org",
            ".a@example.org",
            "a..b@example.org",
            "a@-x.org",
            "a@x_y.org",
        ] {
            let err = EmailAddress::parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("not a valid email address"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn international_local_parts_only_when_asked_for() {
        let a = EmailAddress::parse_international("Jöhn@Example.org").unwrap();
        assert_eq!(a.as_str(), "jöhn@example.org");
        assert!(EmailAddress::parse("jöhn@example.org").is_err());
        for bad in [
            "jö hn@example.org",
            "\"jöhn\"@example.org",
            "jöhn@[127.0.0.1]",
        ] {
            assert!(EmailAddress::parse_international(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_what_a_plain_relay_cannot_deliver() {
        for (bad, why) in [
            ("jöhn@example.org", "non-ASCII"),
            ("\"a b\"@example.org", "may only have"),
            ("a@[127.0.0.1]", "IP address"),
            ("a@127.0.0.1", "IP address"),
        ] {
            let err = EmailAddress::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
