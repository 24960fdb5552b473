//! A realistic briefing, exactly: golden files of its HTML and text in both
//! languages, written by the built-in summariser and by an LLM; the HTML
//! passes an email-aware lint and stays under Gmail's clipping size.
//!
//! The papers are real (a recorded arXiv cs.CV day and a Nature feed), the
//! links are really signed; only the radar is stood in for by title words,
//! so that the golden files change when the briefing does, not when the
//! radar's ranking is tuned. `UPDATE_GOLDEN=1 cargo test --test it briefing`
//! rewrites them; review the diff. The rendered files are also written to
//! `target/tmp/briefings/`, for the lint here and the browser test.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use academichub::briefing::{
    Briefing, BriefingLinks, Pick, RenderedMail, Renderer, Section, compose,
};
use academichub::domain::{
    Analysis, LinkAction, LinkClaims, LinkKeys, LinkSecret, Locale, Paper, Verdict, Writer,
};
use academichub::sources::parse_feed;
use academichub::writing::summarise;
use chrono::NaiveDate;

use crate::helpers::{fixture, skip};

/// Gmail clips a message's HTML above this many bytes.
const GMAIL_CLIP_BYTES: usize = 102 * 1024;

/// The day's papers: (stored id, paper), ids as the store would give them.
fn papers() -> Vec<(i64, Paper)> {
    let arxiv = parse_feed(&fixture("arxiv-rss2-cs.CV-2026-04-21-real-day.xml")).unwrap();
    let nature = parse_feed(&fixture("nature-rss1-real-2024-07-18.rss")).unwrap();
    arxiv
        .papers
        .into_iter()
        .chain(nature.papers)
        .enumerate()
        .map(|(i, p)| (i as i64 + 1, p))
        .collect()
}

/// A reader's five topics, each with the title words that stand in for its
/// radar here, and how many papers it shows. The last picks a real title
/// with inline LaTeX (`ViT$^3$`), which the briefing shows as text.
const TOPICS: [(&str, &[&str], usize); 5] = [
    ("Diffusion models", &["diffusion"], 3),
    (
        "3D reconstruction",
        &["gaussian splatting", "3d reconstruction"],
        3,
    ),
    ("Vision-language models", &["vision-language", "vlm"], 2),
    ("Structural biology", &["protein", "structure"], 2),
    ("Test-time training", &["test-time training"], 1),
];

fn sections<'a>(
    papers: &'a [(i64, Paper)],
    tldrs: Option<&'a HashMap<i64, String>>,
) -> Vec<Section<'a>> {
    TOPICS
        .iter()
        .map(|(topic, words, shown)| {
            let matching: Vec<&(i64, Paper)> = papers
                .iter()
                .filter(|(_, p)| {
                    let title = p.title.to_lowercase();
                    words.iter().any(|w| title.contains(w))
                        && (*topic != "Structural biology" || p.venue.contains("Nature"))
                })
                .collect();
            assert!(
                matching.len() >= *shown,
                "{topic}: {} papers",
                matching.len()
            );
            Section {
                topic: Some(topic),
                picks: matching[..*shown]
                    .iter()
                    .map(|(id, p)| {
                        let title = p.title.to_lowercase();
                        Pick {
                            paper_id: *id,
                            paper: p,
                            matched: words
                                .iter()
                                .filter(|w| title.contains(*w))
                                .map(|w| (*w).to_owned())
                                .collect(),
                            tldr: tldrs.and_then(|t| t.get(id)).map(String::as_str),
                            published_in: None,
                        }
                    })
                    .collect(),
                more: matching.len() - shown,
            }
        })
        .collect()
}

fn render(locale: Locale, llm: bool) -> RenderedMail {
    let papers = papers();
    let renderer = Renderer::new().unwrap();
    let strings = renderer.strings(locale);
    let tldrs: HashMap<i64, String> = papers
        .iter()
        .map(|(id, p)| {
            let tldr = match locale {
                Locale::En => format!(
                    "In one line, as an LLM would put it: what “{}” finds.",
                    p.title
                ),
                Locale::Zh => format!("简而言之：{}（由 LLM 撰写的摘要）。", p.title),
            };
            (*id, tldr)
        })
        .collect();
    let sections = sections(&papers, llm.then_some(&tldrs));
    let analysis = if llm {
        let first = |i: usize| sections[i].picks[0].paper_id;
        let keys: HashMap<String, i64> =
            [("P1".to_owned(), first(0)), ("P2".to_owned(), first(1))].into();
        let text = match locale {
            Locale::En => {
                "Generative priors run through today's papers: [P1] brings diffusion to a reconstruction problem, and [P2] shows how far splatting has come. Vision-language work is quieter. A Nature paper on protein structure rounds off the day."
            }
            Locale::Zh => {
                "今天的论文贯穿着生成式先验：[P1] 把扩散模型用于重建问题，[P2] 展示了高斯泼溅的进展。视觉语言方向相对平静。一篇关于蛋白质结构的 Nature 论文为今天收尾。"
            }
        };
        Analysis::from_marked(text, &keys, Writer::Llm("test-model".into())).unwrap()
    } else {
        summarise(&sections, strings)
    };
    let keys = LinkKeys::new(vec![LinkSecret::new([7u8; 32]).unwrap()]).unwrap();
    let url = |action: LinkAction, object: i64, path: &str| {
        let token = keys.sign(LinkClaims {
            subscriber_id: 4242,
            nonce: 917_263,
            action,
            object,
            issued_at: 1_795_000_000,
        });
        format!("https://briefings.academichub.example/{path}/{token}")
    };
    let feedback = |paper: i64, verdict: Verdict| match verdict {
        Verdict::More => url(LinkAction::FeedbackMore, paper, "feedback"),
        Verdict::Less => url(LinkAction::FeedbackLess, paper, "feedback"),
    };
    let links = BriefingLinks {
        unsubscribe: url(LinkAction::Unsubscribe, 0, "unsubscribe"),
        preferences: url(LinkAction::Preferences, 0, "preferences"),
        view: url(LinkAction::View, 20_781, "b"),
        feedback: &feedback,
    };
    let content = compose(
        &Briefing {
            sections: &sections,
            analysis: &analysis,
            edition: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            strings,
            contact: "AcademicHub · 1 Example Street, 10115 Berlin · hello@academichub.example",
        },
        &links,
    );
    renderer.render(&content, locale).unwrap()
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Where the rendered briefings go for the lint and the browser test.
pub fn samples_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("briefings");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every sample briefing, written under `samples_dir()`: (name, path).
pub fn write_samples() -> Vec<(String, PathBuf)> {
    let mut written = Vec::new();
    for locale in Locale::ALL {
        for llm in [false, true] {
            let name = format!("briefing-{locale}-{}", if llm { "llm" } else { "builtin" });
            let mail = render(locale, llm);
            let path = samples_dir().join(format!("{name}.html"));
            std::fs::write(&path, &mail.html).unwrap();
            written.push((name, path));
        }
    }
    written
}

fn check_golden(file: &str, actual: &str) {
    let path = golden_dir().join(file);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run UPDATE_GOLDEN=1 cargo test --test it briefing",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{file} differs from the golden file from line {}:\n  golden: {:?}\n  now:    {:?}\n\
             If the change is intended, run UPDATE_GOLDEN=1 cargo test --test it briefing and review the diff.",
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

/// The HTML with one element per line, so a golden diff points at the change.
fn one_tag_per_line(html: &str) -> String {
    html.replace("><", ">\n<")
}

#[test]
fn a_realistic_briefing_is_exactly_as_reviewed_in_both_languages_with_and_without_an_llm() {
    for locale in Locale::ALL {
        for llm in [false, true] {
            let name = format!("briefing-{locale}-{}", if llm { "llm" } else { "builtin" });
            let mail = render(locale, llm);
            check_golden(
                &format!("{name}.subject.txt"),
                &format!("{}\n", mail.subject),
            );
            check_golden(&format!("{name}.txt"), &mail.text);
            check_golden(&format!("{name}.html"), &one_tag_per_line(&mail.html));
            assert!(
                mail.html.len() < GMAIL_CLIP_BYTES,
                "{name}: {} bytes of HTML; Gmail clips above {GMAIL_CLIP_BYTES}",
                mail.html.len()
            );
        }
    }
}

#[test]
fn the_briefing_passes_an_email_aware_html_lint() {
    const TEST: &str = "the_briefing_passes_an_email_aware_html_lint";
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lint = root.join("scripts/html-lint/node_modules/.bin/html-validate");
    if !lint.exists() {
        return skip(
            TEST,
            "html-validate is not installed (npm ci --prefix scripts/html-lint)",
        );
    }
    for (name, path) in write_samples() {
        let out = std::process::Command::new(&lint)
            .arg("--config")
            .arg(root.join("scripts/html-lint/htmlvalidate.config.cjs"))
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name} fails the lint:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
