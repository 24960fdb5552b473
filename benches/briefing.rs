//! Making one briefing, as the round does for each subscriber: sign the
//! reader's links, write the built-in analysis, compose, render (HTML and
//! text), encode the body for the wire (quoted-printable) and build the
//! MIME message. One thread: the figure is briefings per second per core.
//!
//! `cargo bench --bench briefing`

use std::hint::black_box;

use academichub::briefing::{Briefing, BriefingLinks, Pick, Renderer, Section, compose};
use academichub::delivery::build_message;
use academichub::domain::OutgoingMessage;
use academichub::domain::{
    LinkAction, LinkClaims, LinkKeys, LinkSecret, Locale, MessageBody, Paper, Verdict,
};
use academichub::sources::parse_feed;
use academichub::writing::summarise;
use chrono::NaiveDate;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const ARXIV_DAY: &[u8] =
    include_bytes!("../tests/fixtures/feeds/arxiv-rss2-cs.CV-2026-04-21-real-day.xml");
const NATURE: &[u8] = include_bytes!("../tests/fixtures/feeds/nature-rss1-real-2024-07-18.rss");

/// Four topics of a real day, ten papers in all (the realistic briefing).
const TOPICS: [(&str, &str, usize); 4] = [
    ("Diffusion models", "diffusion", 3),
    ("3D reconstruction", "gaussian splatting", 3),
    ("Vision-language models", "vision-language", 2),
    ("Structural biology", "protein", 2),
];

fn briefing(c: &mut Criterion) {
    let papers: Vec<(i64, Paper)> = parse_feed(ARXIV_DAY)
        .unwrap()
        .papers
        .into_iter()
        .chain(parse_feed(NATURE).unwrap().papers)
        .enumerate()
        .map(|(i, p)| (i as i64 + 1, p))
        .collect();
    let sections: Vec<Section> = TOPICS
        .iter()
        .map(|(topic, word, shown)| {
            let matching: Vec<&(i64, Paper)> = papers
                .iter()
                .filter(|(_, p)| p.title.to_lowercase().contains(word))
                .collect();
            Section {
                topic: Some(topic),
                picks: matching[..*shown]
                    .iter()
                    .map(|(id, p)| Pick {
                        paper_id: *id,
                        paper: p,
                        matched: vec![(*word).to_owned()],
                        tldr: None,
                        published_in: None,
                    })
                    .collect(),
                more: matching.len() - shown,
            }
        })
        .collect();
    let renderer = Renderer::new().unwrap();
    let keys = LinkKeys::new(vec![LinkSecret::new([7u8; 32]).unwrap()]).unwrap();
    let from = "AcademicHub <briefings@academichub.example>"
        .parse()
        .unwrap();
    let edition = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();

    let make = |locale: Locale| {
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
        let strings = renderer.strings(locale);
        let analysis = summarise(black_box(&sections), strings);
        let content = compose(
            &Briefing {
                sections: &sections,
                analysis: &analysis,
                edition,
                strings,
                contact: "AcademicHub · 1 Example Street, 10115 Berlin",
            },
            &links,
        );
        let mail = renderer.render(&content, locale).unwrap();
        let message = OutgoingMessage {
            recipient: academichub::domain::EmailAddress::parse("reader@example.org").unwrap(),
            subject: mail.subject,
            body: MessageBody::encode(&mail.html, &mail.text),
            message_id: "<bench@academichub.example>".into(),
            unsubscribe_url: Some(links.unsubscribe),
        };
        build_message(&from, message, None).unwrap().formatted()
    };

    let mut group = c.benchmark_group("briefing");
    group.throughput(Throughput::Elements(1));
    for locale in Locale::ALL {
        let bytes = make(locale).len();
        group.bench_function(
            format!("10-paper briefing, {locale}: links, analysis, compose, render, MIME ({bytes} bytes)"),
            |b| b.iter(|| make(black_box(locale))),
        );
    }
    group.finish();
}

criterion_group!(benches, briefing);
criterion_main!(benches);
