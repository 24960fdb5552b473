//! Matching a batch: the day's papers tokenised once per round, each
//! batch's radars added to a copy, every radar matched on rayon's pool,
//! and each radar's picks cut to the briefing's size.

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::domain::{Glossary, Paper, SentPapers, Subscriber, Verdict};
use crate::radar::{Examples, Hit, MatchOptions, Profile, RadarIndex, RadarsBuilder, TopicPicks};
use crate::store::StoredPaper;

/// A subscriber whose briefing is being made, with what matching needs.
pub(super) struct Due {
    pub(super) subscriber: Subscriber,
    pub(super) already_sent: SentPapers,
    /// Verdicts with the papers' text, for the feedback profile.
    pub(super) feedback: Vec<(Verdict, StoredPaper)>,
}

/// Today's papers for one round, tokenised once and shared by its batches.
pub(super) struct RoundPapers {
    pub(super) papers: Vec<StoredPaper>,
    /// What acronyms stand for: the radar's senses and expansions, and the
    /// words of those that matched.
    pub(super) glossary: Glossary,
    pub(super) builder: RadarsBuilder,
}

/// The index over `papers` for every due radar, in order, with each one's
/// feedback profile.
pub(super) fn index_due(
    papers: &[StoredPaper],
    (glossary, examples): (&Glossary, &Examples),
    due: &[Due],
    now: DateTime<Utc>,
) -> (RadarIndex, Vec<Option<Profile>>) {
    profiles_of(
        builder_for(papers, glossary, now).with_examples(examples.clone()),
        due,
    )
}

/// The papers tokenised, once per round: each batch adds its radars to a copy.
pub(super) fn builder_for(
    papers: &[StoredPaper],
    glossary: &Glossary,
    now: DateTime<Utc>,
) -> RadarsBuilder {
    let pairs: Vec<(i64, &Paper)> = papers.iter().map(|p| (p.id, &p.paper)).collect();
    RadarsBuilder::new(&pairs, now).with_glossary(glossary.clone())
}

fn profiles_of(mut builder: RadarsBuilder, due: &[Due]) -> (RadarIndex, Vec<Option<Profile>>) {
    for d in due {
        builder.add(&d.subscriber.topics);
    }
    let index = builder.build();
    let profiles = due
        .iter()
        .map(|d| {
            let of = |verdict: Verdict| {
                d.feedback
                    .iter()
                    .filter(move |(v, _)| *v == verdict)
                    .map(|(_, p)| &p.paper)
            };
            (!d.feedback.is_empty()).then(|| index.profile(of(Verdict::More), of(Verdict::Less)))
        })
        .collect();
    (index, profiles)
}

/// Every due radar's picks, matched on rayon's pool: CPU work that must not
/// hold up the async runtime's threads.
pub(super) fn match_due(
    builder: RadarsBuilder,
    due: &[Due],
    default_max_per_topic: usize,
) -> Vec<Vec<TopicPicks>> {
    let (index, profiles) = profiles_of(builder, due);
    let options: Vec<MatchOptions> = due
        .iter()
        .zip(&profiles)
        .map(|(d, profile)| MatchOptions {
            already_sent: Some(&d.already_sent),
            max_per_topic: d
                .subscriber
                .max_per_topic
                .map_or(default_max_per_topic, |n| n as usize),
            profile: profile.as_ref(),
        })
        .collect();
    index.match_all(options.into_par_iter())
}

/// At most `max` papers in all, taken in turns from each topic's best, so
/// that every topic is heard from before any has a second paper. The rest
/// stay unsent, and news on a later day while they are recent.
/// Each kept topic comes with its picks left out, best first.
pub(super) fn within_total(picks: &[TopicPicks], max: usize) -> Kept {
    let mut keep = vec![0; picks.len()];
    let mut total = 0;
    for rank in 0.. {
        let before = total;
        for (k, t) in keep.iter_mut().zip(picks) {
            if total < max && rank < t.hits.len() {
                *k += 1;
                total += 1;
            }
        }
        if total == before {
            break;
        }
    }
    picks
        .iter()
        .zip(keep)
        .filter(|(_, k)| *k > 0)
        .map(|(t, k)| {
            let kept = TopicPicks {
                topic: t.topic,
                hits: t.hits[..k].to_vec(),
            };
            (kept, t.hits[k..].to_vec())
        })
        .collect()
}

/// A radar's picks within the briefing's size: each topic's kept picks,
/// with the ones the size left out.
pub(super) type Kept = Vec<(TopicPicks, Vec<Hit>)>;
