//! The drafter: one subscriber's picks → their briefing's sections, its
//! mail rendered with signed links, and the rows the round stores for it.
//!
//! It holds what worker threads need (templates, link keys, the contact
//! lines, the size limits) and nothing of the database or the async
//! runtime, so a batch's briefings are drafted on every core at once.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use rayon::prelude::*;

use super::matching::{Due, Kept, RoundPapers, match_due, within_total};
use crate::briefing::{Briefing, BriefingLinks, Pick, RenderedMail, Renderer, Section, compose};
use crate::config::Settings;
use crate::domain::{
    Analysis, Glossary, Locale, MessageBody, OutgoingMessage, Subscriber, Verdict,
};
use crate::links::{Links, ReaderLink};
use crate::radar::{Examples, describe};
use crate::store::{BriefingItem, LeftOutItem, StoredPaper};
use crate::writing::{BriefingPapers, Words, summarise};

/// The topic recorded for papers that resemble liked ones but match no topic.
const SIMILAR_TOPIC: &str = "(like papers you liked)";

/// A briefing composed and rendered for one subscriber, not yet stored.
pub(super) struct Draft {
    pub(super) items: Vec<BriefingItem>,
    pub(super) left_out: Vec<LeftOutItem>,
    pub(super) message: OutgoingMessage,
}

/// A briefing's outcome for one subscriber of a batch.
pub(super) type Drafted = anyhow::Result<Option<Draft>>;

/// What worker threads need to make briefings: templates, link keys and
/// limits, without the database or the async runtime.
#[derive(Clone)]
pub(super) struct Drafter {
    renderer: Arc<Renderer>,
    links: Arc<Links>,
    /// The sender's contact line in every footer, per language.
    contacts: Arc<HashMap<Locale, String>>,
    max_per_topic: usize,
    pub(super) max_papers: usize,
}

impl Drafter {
    pub(super) fn new(renderer: Arc<Renderer>, links: Arc<Links>, settings: &Settings) -> Self {
        let contacts = Locale::ALL
            .into_iter()
            .map(|l| {
                let line = settings
                    .contact_line(l)
                    .map_or_else(|| renderer.strings(l).footer.clone(), str::to_owned);
                (l, line)
            })
            .collect();
        Self {
            renderer,
            links,
            contacts: Arc::new(contacts),
            max_per_topic: settings.briefing.max_per_topic,
            max_papers: settings.briefing.max_papers,
        }
    }

    /// Each due radar's picks, on rayon's pool, within the briefing's size.
    pub(super) fn match_batch(
        &self,
        papers: &RoundPapers,
        examples: &Examples,
        due: &[Due],
    ) -> Vec<Kept> {
        let builder = papers.builder.clone().with_examples(examples.clone());
        match_due(builder, due, self.max_per_topic)
            .into_par_iter()
            .map(|picks| within_total(&picks, self.max_papers))
            .collect()
    }

    /// Makes each briefing of a matched batch, on rayon's pool.
    pub(super) fn draft_batch(
        &self,
        papers: &RoundPapers,
        examples: &Examples,
        due: Vec<Due>,
        picks: &[Kept],
        words: &Words,
        now: DateTime<Utc>,
    ) -> Vec<(Subscriber, Drafted)> {
        due.into_par_iter()
            .zip(picks)
            .map(|(d, picks)| {
                let drafted = self.draft(
                    &d.subscriber,
                    (&papers.papers, &papers.glossary, examples),
                    picks,
                    words,
                    now,
                );
                (d.subscriber, drafted)
            })
            .collect()
    }

    /// What `subscriber` would receive for these picks, or `None` when there are none.
    pub(super) fn draft(
        &self,
        subscriber: &Subscriber,
        (papers, glossary, examples): (&[StoredPaper], &Glossary, &Examples),
        picks: &Kept,
        words: &Words,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Draft>> {
        if picks.is_empty() {
            return Ok(None);
        }
        let locale = subscriber.locale;
        let sections: Vec<Section> = picks
            .iter()
            .map(|(t, left_out)| {
                let topic = t.topic.map(|i| &subscriber.topics[i]);
                Section {
                    topic: topic.map(|t| t.name()),
                    picks: t
                        .hits
                        .iter()
                        .map(|h| Pick {
                            paper_id: papers[h.paper].id,
                            paper: &papers[h.paper].paper,
                            published_in: papers[h.paper].published_in.as_deref(),
                            matched: topic
                                .map(|t| describe(t, glossary, examples, h.matched.reasons()))
                                .unwrap_or_default(),
                            tldr: words
                                .tldrs
                                .get(&(papers[h.paper].id, locale))
                                .map(String::as_str),
                        })
                        .collect(),
                    more: left_out.len(),
                }
            })
            .collect();
        let left_out = picks
            .iter()
            .flat_map(|(t, left_out)| {
                let topic = t.topic.map(|i| &subscriber.topics[i]);
                left_out.iter().map(move |h| LeftOutItem {
                    paper_id: papers[h.paper].id,
                    topic: topic.map_or(SIMILAR_TOPIC, |t| t.name()).to_owned(),
                    matched: topic
                        .map(|t| describe(t, glossary, examples, h.matched.reasons()))
                        .unwrap_or_default(),
                })
            })
            .collect();
        let (rendered, unsubscribe) = self.render(
            subscriber,
            &sections,
            words.analyses.get(&subscriber.id),
            subscriber.edition(now),
            now,
            false,
        )?;
        let items = sections
            .iter()
            .flat_map(|s| {
                let topic = s.topic.unwrap_or(SIMILAR_TOPIC);
                s.picks.iter().map(move |p| BriefingItem {
                    paper_id: p.paper_id,
                    version: p.paper.arxiv.as_ref().and_then(|(_, v)| *v),
                    topic: topic.to_owned(),
                })
            })
            .collect();
        let message = OutgoingMessage {
            recipient: subscriber.email.clone(),
            subject: rendered.subject,
            body: MessageBody::encode(&rendered.html, &rendered.text),
            message_id: self.links.message_id(),
            unsubscribe_url: Some(unsubscribe),
        };
        Ok(Some(Draft {
            items,
            left_out,
            message,
        }))
    }

    /// The briefing's mail for these sections and edition, with its links
    /// signed at `now`; and the unsubscribe link, for the list headers.
    /// `left_out`: the sections are what the briefing left out for its size.
    pub(super) fn render(
        &self,
        subscriber: &Subscriber,
        sections: &[Section],
        analysis: Option<&Analysis>,
        edition: NaiveDate,
        now: DateTime<Utc>,
        left_out: bool,
    ) -> anyhow::Result<(RenderedMail, String)> {
        let feedback = |paper_id: i64, verdict: Verdict| {
            self.links
                .url(subscriber, ReaderLink::Feedback(paper_id, verdict), now)
        };
        let links = BriefingLinks {
            unsubscribe: self.links.url(subscriber, ReaderLink::Unsubscribe, now),
            preferences: self.links.url(subscriber, ReaderLink::Preferences, now),
            view: self.links.url(subscriber, ReaderLink::View(edition), now),
            feedback: &feedback,
        };
        let strings = self.renderer.strings(subscriber.locale);
        let built_in;
        let analysis = match analysis {
            Some(analysis) => analysis,
            None => {
                built_in = summarise(sections, strings);
                &built_in
            }
        };
        let mut content = compose(
            &Briefing {
                sections,
                analysis,
                edition,
                strings,
                contact: &self.contacts[&subscriber.locale],
            },
            &links,
        );
        content.left_out = left_out;
        let rendered = self
            .renderer
            .render(&content, subscriber.locale)
            .with_context(|| format!("cannot render the briefing for {}", subscriber.email))?;
        Ok((rendered, links.unsubscribe))
    }
}

/// Stored papers in order, each under its topic, as a briefing's sections.
pub(super) fn sections_of<'a>(
    items: impl Iterator<Item = (&'a String, Vec<String>, &'a StoredPaper)>,
) -> Vec<Section<'a>> {
    let mut sections: Vec<Section> = Vec::new();
    for (topic, matched, paper) in items {
        let topic = (topic != SIMILAR_TOPIC).then_some(topic.as_str());
        if sections.last().is_none_or(|s| s.topic != topic) {
            sections.push(Section {
                topic,
                picks: Vec::new(),
                more: 0,
            });
        }
        sections.last_mut().expect("pushed above").picks.push(Pick {
            paper_id: paper.id,
            paper: &paper.paper,
            published_in: paper.published_in.as_deref(),
            matched,
            tldr: None,
        });
    }
    sections
}

/// A briefing's topics and papers, as the writing stage keys and asks for them.
pub(super) fn briefing_papers<'a>(
    subscriber: &'a Subscriber,
    papers: &'a [StoredPaper],
    picks: &Kept,
) -> BriefingPapers<'a> {
    BriefingPapers {
        subscriber_id: subscriber.id,
        locale: subscriber.locale,
        sections: picks
            .iter()
            .map(|(t, _)| {
                let topic = t
                    .topic
                    .map_or(SIMILAR_TOPIC, |i| subscriber.topics[i].name());
                let hits = t
                    .hits
                    .iter()
                    .map(|h| (papers[h.paper].id, &papers[h.paper].paper))
                    .collect();
                (topic, hits)
            })
            .collect(),
    }
}
