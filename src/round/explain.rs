//! How one subscriber's radar scores one paper, for an operator asking
//! why a paper was or was not in a briefing.

use std::fmt::Write;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::Round;
use super::matching::index_due;
use crate::domain::{ExpansionOrigin, Glossary, Subscriber};
use crate::radar::{self, RadarId, Rejection, Why};
use crate::store::StoredPaper;

impl Round {
    /// A report of how `subscriber`'s radar scores `target` now: each topic's
    /// matched terms and their weights, filters, boosts and feedback.
    pub async fn explain(
        &self,
        subscriber: Subscriber,
        target: StoredPaper,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let mut papers = self
            .store
            .recent_papers(self.briefing.news_since(now))
            .await?;
        let recent = papers.iter().any(|p| p.id == target.id);
        if !recent {
            papers.push(target.clone());
        }
        let glossary = self.store.glossary().await?;
        let examples = self.examples_for([&subscriber]).await?;
        let due = [self.due(subscriber, now).await?];
        let (index, profiles) = index_due(&papers, (&glossary, &examples), &due, now);
        let position = index
            .position(target.id)
            .context("the paper is in the index")?;
        let d = &due[0];
        let p = &target.paper;
        let mut out = String::new();
        writeln!(out, "paper:   {} ({})", p.title, p.key)?;
        writeln!(
            out,
            "         {}{}{}",
            p.venue,
            p.categories
                .first()
                .map(|c| format!(" {c}"))
                .unwrap_or_default(),
            p.announce_type
                .map(|a| format!(", {a}"))
                .unwrap_or_default()
        )?;
        if !recent {
            writeln!(
                out,
                "         not among the papers of the last {} hours: no briefing would include it",
                self.briefing.lookback_hours
            )?;
        }
        if d.already_sent.current.contains(&target.id) {
            writeln!(
                out,
                "         already sent to {}: never sent again",
                d.subscriber.email
            )?;
        } else if d.already_sent.earlier.contains(&target.id) {
            writeln!(
                out,
                "         sent to {} in an earlier version: sent again only under a topic that says with:updates",
                d.subscriber.email
            )?;
        }
        for (i, topic) in d.subscriber.topics.iter().enumerate() {
            let e = index.evaluate(RadarId(0), i, position);
            writeln!(out, "topic:   {}: {}", topic.name(), topic.query())?;
            for line in senses_and_expansions(topic, &glossary) {
                writeln!(out, "         {line}")?;
            }
            for (matched, weight) in &e.matched {
                let what = match matched {
                    Why::Term(_) => "term",
                    Why::Expansion(_) => "also matching",
                    Why::Author(_) => "author",
                    Why::Example(_) => "like the example",
                };
                let text = radar::describe(topic, &glossary, &examples, [*matched]).join("");
                writeln!(out, "         {what} {text:?}: {weight:.2}")?;
            }
            match (e.score, e.rejected) {
                (Some(score), _) => writeln!(
                    out,
                    "         score {score:.2} (× weight {}, × preferred places {:.2}, × announce and freshness {:.2})",
                    topic.query().weight(),
                    e.boost,
                    e.prior
                )?,
                (None, Some(why)) => {
                    writeln!(out, "         not matched: {}", rejection(topic, why))?
                }
                (None, None) => writeln!(out, "         not matched")?,
            }
        }
        match &profiles[0] {
            Some(profile) => {
                let (like, unlike, factor) = index.feedback(profile, position);
                writeln!(
                    out,
                    "feedback: like liked papers {like:.2}, like disliked papers {unlike:.2}: scores × {factor:.2}"
                )?;
            }
            None => writeln!(out, "feedback: none yet")?,
        }
        Ok(out)
    }
}

fn rejection(topic: &crate::domain::Topic, why: Rejection) -> String {
    match why {
        Rejection::MissingGroup(g) => {
            let group = topic.query().groups().get(usize::from(g));
            let words: Vec<String> = group
                .map(|g| g.iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            format!("none of {} appears", words.join(" OR "))
        }
        Rejection::Excluded(pos) => format!(
            "it mentions the excluded {:?}",
            radar::term_text(topic, pos).unwrap_or("?")
        ),
        Rejection::OutsideCategories => "it is in none of the topic's categories".into(),
        Rejection::OutsideVenues => "it is from none of the topic's venues".into(),
        Rejection::Replacement => "it is a revised version, and the topic says only:new".into(),
    }
}

/// What `explain` says of a topic's acronyms and learned expansions, one
/// line each: the sense each acronym is read in, and each expansion with
/// how to turn it off.
fn senses_and_expansions(topic: &crate::domain::Topic, glossary: &Glossary) -> Vec<String> {
    let query = topic.query();
    let mut lines: Vec<String> = query
        .groups()
        .iter()
        .flatten()
        .filter_map(|t| {
            let sense = radar::acronym_sense(glossary, query, t)?;
            Some(format!(
                "acronym {:?} read as {sense:?}: not counted where a paper defines it otherwise",
                t.text()
            ))
        })
        .collect();
    for e in glossary.expansions(query) {
        let source = match e.origin {
            ExpansionOrigin::Suggested => "suggested by an AI model".to_owned(),
            ExpansionOrigin::Learned => "learned from stored papers".to_owned(),
            ExpansionOrigin::Field(field) => {
                format!("used by papers on {field}; counted in a title or mentioned twice")
            }
        };
        let with = e
            .with
            .as_ref()
            .map(|w| format!(" where a paper also says {w:?}"))
            .unwrap_or_default();
        lines.push(format!(
            "also matching {:?}{with} ({source}; -also:{:?} turns it off)",
            e.text, e.text
        ));
    }
    lines
}
