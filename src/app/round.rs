//! The round: for every active subscriber whose slot has come (local send
//! hour, weekday if weekly, not paused), match today's papers against their
//! radar and queue the briefing with its outbox message.
//!
//! Who is due comes from SQL: each subscriber has a stored `next_due_at`
//! (their next slot), so a tick with nobody due is one indexed query, and
//! a subscriber with nothing new today is not looked at again before
//! tomorrow's slot. Due subscribers are claimed in batches (a lease on
//! `next_due_at`; on PostgreSQL rows another daemon holds are skipped), so
//! several daemons share a round and one that dies leaves its batch to the
//! others once the lease passes. A batch goes through the stages together:
//! its radars, already-sent papers and feedback in three queries; matching
//! on every core (rayon, off the async runtime); what the LLM wrote or
//! writes now for these briefings (`writing.rs`; nothing without `[llm]`);
//! rendering on every core; then one
//! transaction with multi-row inserts writes its briefings, their items and
//! outbox rows, and each subscriber's next slot. A subscriber whose row or
//! template fails gets the error recorded (`round_error`) and is tried again
//! in an hour; the rest of the batch goes on.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};

use rayon::prelude::*;

use super::writing::{BriefingPapers, Words};
use super::{Application, Links, ReaderLink, message_id};
use crate::briefing::{
    Briefing, BriefingLinks, Pick, RenderedMail, Renderer, Section, compose, summarise,
};
use crate::domain::{
    Analysis, EmailAddress, Glossary, Locale, MessageBody, Paper, SentPapers, Subscriber, Verdict,
};
use crate::radar::{
    Examples, Hit, MatchOptions, Profile, RadarIndex, RadarsBuilder, TopicPicks, describe,
};
use crate::store::{
    BriefingItem, LeftOutItem, NewBriefing, NextLook, OutgoingMessage, StoredPaper,
};

/// The topic recorded for papers that resemble liked ones but match no topic.
const SIMILAR_TOPIC: &str = "(like papers you liked)";

/// What building briefings did, subscriber by subscriber.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PrepareReport {
    /// Briefings made and queued in the outbox.
    pub queued: usize,
    /// Subscribers whose radar picked up nothing new: no email.
    pub nothing_new: usize,
    /// Subscribers whose slot has not come (send hour, weekday, pause).
    pub not_due: usize,
    /// Subscribers who already have today's briefing.
    pub already_done: usize,
    /// Subscribers whose briefing could not be made (their row or radar
    /// cannot be read, the template failed): recorded, tried again later.
    pub failed: usize,
    /// Subscriber rows the round read: the due, and in a forced round everyone.
    pub examined: usize,
}

/// Subscribers claimed and made at a time.
const BATCH: i64 = 500;
/// How long a claimed batch is this daemon's; past it, another takes it over.
const LEASE_SECS: i64 = 15 * 60;
/// When a subscriber's briefing failed, the next try.
const RETRY_FAILED_SECS: i64 = 3600;

/// A briefing composed and rendered for one subscriber, not yet stored.
struct Draft {
    items: Vec<BriefingItem>,
    left_out: Vec<LeftOutItem>,
    message: OutgoingMessage,
}

/// A subscriber whose briefing is being made, with what matching needs.
pub(super) struct Due {
    pub(super) subscriber: Subscriber,
    pub(super) already_sent: SentPapers,
    /// Verdicts with the papers' text, for the feedback profile.
    pub(super) feedback: Vec<(Verdict, StoredPaper)>,
}

/// Verdicts a profile is learned from: the latest ones weigh what the reader wants now.
const FEEDBACK_PAPERS: i64 = 50;

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
fn builder_for(papers: &[StoredPaper], glossary: &Glossary, now: DateTime<Utc>) -> RadarsBuilder {
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
fn match_due(
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
fn within_total(picks: &[TopicPicks], max: usize) -> Kept {
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
type Kept = Vec<(TopicPicks, Vec<Hit>)>;

/// A briefing's outcome for one subscriber of a batch.
type Drafted = anyhow::Result<Option<Draft>>;

/// What worker threads need to make briefings: templates, link keys and
/// limits, without the database or the async runtime.
#[derive(Clone)]
pub(super) struct Drafter {
    renderer: Arc<Renderer>,
    links: Arc<Links>,
    message_domain: Arc<str>,
    /// The sender's contact line in every footer, per language.
    contacts: Arc<HashMap<Locale, String>>,
    max_per_topic: usize,
    max_papers: usize,
}

/// Today's papers for one round, tokenised once and shared by its batches.
struct RoundPapers {
    papers: Vec<StoredPaper>,
    /// What acronyms stand for: the radar's senses and expansions, and the
    /// words of those that matched.
    glossary: Glossary,
    builder: RadarsBuilder,
}

impl Application {
    pub(super) fn drafter(&self) -> Drafter {
        Drafter {
            renderer: self.renderer.clone(),
            links: self.links.clone(),
            message_domain: self.sender.from().email.domain().into(),
            contacts: Arc::new(
                Locale::ALL
                    .into_iter()
                    .map(|l| {
                        let line = self
                            .settings
                            .contact_line(l)
                            .map_or_else(|| self.renderer.strings(l).footer.clone(), str::to_owned);
                        (l, line)
                    })
                    .collect(),
            ),
            max_per_topic: self.settings.briefing.max_per_topic,
            max_papers: self.settings.briefing.max_papers,
        }
    }

    /// Builds and queues today's briefing for every subscriber who is due:
    /// their slot has come (or `force`, which ignores the send hour and the
    /// stored slot: every active subscriber is looked at), they have no
    /// briefing for their local date yet, and their radar picked something
    /// up.
    pub async fn prepare_briefings(
        &self,
        now: DateTime<Utc>,
        force: bool,
    ) -> anyhow::Result<PrepareReport> {
        let mut report = PrepareReport::default();
        let mut papers: Option<Arc<RoundPapers>> = None;
        let mut after = 0;
        while !self.stopping() {
            let batch = if force {
                self.store.active_subscribers_after(after, BATCH).await?
            } else {
                let t = now.timestamp();
                self.store
                    .claim_due_subscribers(t, t + LEASE_SECS, BATCH)
                    .await?
            };
            let Some(&(last, _)) = batch.last() else {
                break;
            };
            after = last;
            report.examined += batch.len();
            self.prepare_batch(batch, now, force, &mut papers, &mut report)
                .await?;
        }
        Ok(report)
    }

    async fn prepare_batch(
        &self,
        batch: Vec<(i64, crate::store::Result<Subscriber>)>,
        now: DateTime<Utc>,
        force: bool,
        papers: &mut Option<Arc<RoundPapers>>,
        report: &mut PrepareReport,
    ) -> anyhow::Result<()> {
        let t = now.timestamp();
        let mut looks = Vec::with_capacity(batch.len());
        let mut look = |subscriber_id: i64, at: DateTime<Utc>, error: Option<String>| {
            looks.push(NextLook {
                subscriber_id,
                at: at.timestamp(),
                error,
            });
        };
        let retry_at = now + chrono::Duration::seconds(RETRY_FAILED_SECS);
        let mut candidates = Vec::with_capacity(batch.len());
        for (id, subscriber) in batch {
            match subscriber {
                Err(e) => {
                    tracing::error!(subscriber = id, error = %e, "cannot make this subscriber's briefing; trying again in an hour");
                    report.failed += 1;
                    look(id, retry_at, Some(e.to_string()));
                }
                Ok(s) if !s.is_due(now, force) => {
                    report.not_due += 1;
                    look(id, s.next_slot(now, false), None);
                }
                Ok(s) => candidates.push(s),
            }
        }
        let ids: Vec<i64> = candidates.iter().map(|s| s.id).collect();
        // Editions are local dates: anything made in the last three days
        // covers every time zone's today.
        let made = self.store.editions_since(&ids, t - 3 * 86_400).await?;
        let mut due = Vec::with_capacity(candidates.len());
        for s in candidates {
            if made.contains(&(s.id, s.edition(now).to_string())) {
                report.already_done += 1;
                look(s.id, s.next_slot(now, true), None);
            } else {
                due.push(s);
            }
        }
        let drafts = if due.is_empty() {
            Vec::new()
        } else {
            let papers = match papers {
                Some(p) => p.clone(),
                None => {
                    let recent = self.store.recent_papers(self.news_since(now)).await?;
                    let glossary = self.store.glossary().await?;
                    let p = tokio::task::spawn_blocking(move || RoundPapers {
                        builder: builder_for(&recent, &glossary, now),
                        papers: recent,
                        glossary,
                    })
                    .await
                    .context("tokenising today's papers failed")?;
                    papers.insert(Arc::new(p)).clone()
                }
            };
            let due = self.load_due(due, now).await?;
            let examples = Arc::new(self.examples_for(due.iter().map(|d| &d.subscriber)).await?);
            let drafter = self.drafter();
            let (due, picks) = {
                let (drafter, papers, examples) =
                    (drafter.clone(), papers.clone(), examples.clone());
                tokio::task::spawn_blocking(move || {
                    let picks = drafter.match_batch(&papers, &examples, &due);
                    (due, picks)
                })
                .await
                .context("matching the batch failed")?
            };
            let words = self
                .words_for_picks(&papers.papers, &due, &picks, now)
                .await;
            tokio::task::spawn_blocking(move || {
                drafter.draft_batch(&papers, &examples, due, &picks, &words, now)
            })
            .await
            .context("making the briefings failed")?
        };
        let mut briefings = Vec::with_capacity(drafts.len());
        for (subscriber, drafted) in drafts {
            match drafted {
                Ok(Some(draft)) => {
                    briefings.push(NewBriefing {
                        subscriber_id: subscriber.id,
                        edition: subscriber.edition(now).to_string(),
                        items: draft.items,
                        left_out: draft.left_out,
                        message: draft.message,
                    });
                    look(subscriber.id, subscriber.next_slot(now, true), None);
                }
                Ok(None) => {
                    report.nothing_new += 1;
                    look(subscriber.id, subscriber.next_slot(now, true), None);
                }
                Err(e) => {
                    tracing::error!(to = %subscriber.email, error = format!("{e:#}"), "cannot make this briefing; trying again in an hour");
                    report.failed += 1;
                    look(subscriber.id, retry_at, Some(format!("{e:#}")));
                }
            }
        }
        let created = self.store.store_round(&briefings, &looks, t).await?;
        for id in created {
            if id.is_some() {
                report.queued += 1;
            } else {
                report.already_done += 1;
            }
        }
        if !briefings.is_empty() {
            self.wake_delivery();
        }
        Ok(())
    }

    /// The due subscribers with what matching needs: papers already sent
    /// and feedback, for the whole batch in two queries.
    async fn load_due(
        &self,
        subscribers: Vec<Subscriber>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<Due>> {
        let ids: Vec<i64> = subscribers.iter().map(|s| s.id).collect();
        let mut sent = self
            .store
            .papers_already_sent_to(&ids, self.news_since(now))
            .await?;
        let mut feedback = self.store.feedback_papers_of(&ids, FEEDBACK_PAPERS).await?;
        Ok(subscribers
            .into_iter()
            .map(|subscriber| Due {
                already_sent: sent.remove(&subscriber.id).unwrap_or_default(),
                feedback: feedback.remove(&subscriber.id).unwrap_or_default(),
                subscriber,
            })
            .collect())
    }

    pub(super) async fn due(
        &self,
        subscriber: Subscriber,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Due> {
        Ok(self
            .load_due(vec![subscriber], now)
            .await?
            .pop()
            .expect("one in, one out"))
    }
}

impl Drafter {
    /// Each due radar's picks, on rayon's pool, within the briefing's size.
    fn match_batch(&self, papers: &RoundPapers, examples: &Examples, due: &[Due]) -> Vec<Kept> {
        let builder = papers.builder.clone().with_examples(examples.clone());
        match_due(builder, due, self.max_per_topic)
            .into_par_iter()
            .map(|picks| within_total(&picks, self.max_papers))
            .collect()
    }

    /// Makes each briefing of a matched batch, on rayon's pool.
    fn draft_batch(
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
    fn draft(
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
            recipient: subscriber.email.to_string(),
            subject: rendered.subject,
            body: MessageBody::encode(&rendered.html, &rendered.text),
            message_id: message_id(&self.message_domain),
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
    fn render(
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

impl Application {
    /// A briefing made from what it recorded (its papers under their
    /// topics), for the web view once the sent message's body is dropped.
    pub(super) async fn render_again(
        &self,
        subscriber: &Subscriber,
        edition: NaiveDate,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        let items = self
            .store
            .briefing_papers(subscriber.id, &edition.to_string())
            .await?;
        let sections = sections_of(
            items
                .iter()
                .map(|(topic, paper)| (topic, Vec::new(), paper)),
        );
        self.render_page(subscriber, &sections, edition, now, false)
    }

    /// The papers a briefing left out for its size, ranked under their
    /// topics with the words that matched, in the briefing's own layout:
    /// where "N more on this topic" leads.
    pub(super) async fn render_left_out(
        &self,
        subscriber: &Subscriber,
        edition: NaiveDate,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        let items = self
            .store
            .briefing_left_out(subscriber.id, &edition.to_string())
            .await?;
        let sections = sections_of(
            items
                .iter()
                .map(|(topic, matched, paper)| (topic, matched.clone(), paper)),
        );
        self.render_page(subscriber, &sections, edition, now, true)
    }

    /// A web page in the briefing's layout; `left_out` says it lists what
    /// the briefing left out.
    fn render_page(
        &self,
        subscriber: &Subscriber,
        sections: &[Section],
        edition: NaiveDate,
        now: DateTime<Utc>,
        left_out: bool,
    ) -> anyhow::Result<Option<String>> {
        if sections.is_empty() {
            return Ok(None);
        }
        let (rendered, _) = self
            .drafter()
            .render(subscriber, sections, None, edition, now, left_out)?;
        Ok(Some(rendered.html))
    }
}

/// Stored papers in order, each under its topic, as a briefing's sections.
fn sections_of<'a>(
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
            matched,
            tldr: None,
        });
    }
    sections
}

impl Application {
    /// The subscriber and today's papers, matched as the round would.
    async fn match_one(
        &self,
        email: &EmailAddress,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(
        Subscriber,
        Vec<StoredPaper>,
        (Glossary, Examples),
        Vec<TopicPicks>,
    )> {
        let subscriber = self.subscriber(email).await?;
        let papers = self.store.recent_papers(self.news_since(now)).await?;
        let glossary = self.store.glossary().await?;
        let examples = self.examples_for([&subscriber]).await?;
        let due = [self.due(subscriber, now).await?];
        let max = self.settings.briefing.max_per_topic;
        let builder = builder_for(&papers, &glossary, now).with_examples(examples.clone());
        let picks = match_due(builder, &due, max).pop().unwrap_or_default();
        let [Due { subscriber, .. }] = due;
        Ok((subscriber, papers, (glossary, examples), picks))
    }

    /// The example papers (`like:`) these subscribers' topics name, as
    /// stored; one the store no longer has is left out of its topic.
    pub(super) async fn examples_for<'s>(
        &self,
        subscribers: impl IntoIterator<Item = &'s Subscriber>,
    ) -> anyhow::Result<Examples> {
        let mut out = Examples::new();
        for subscriber in subscribers {
            for reference in subscriber.topics.iter().flat_map(|t| t.query().examples()) {
                if out.contains_key(reference) {
                    continue;
                }
                if let Some(p) = self.store.find_paper(reference).await? {
                    out.insert(reference.clone(), (p.id, p.paper));
                }
            }
        }
        Ok(out)
    }

    /// The HTML a subscriber would receive if a briefing were made now.
    pub async fn preview(
        &self,
        email: &EmailAddress,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        let (subscriber, papers, (glossary, examples), picks) = self.match_one(email, now).await?;
        let drafter = self.drafter();
        let picks = vec![within_total(&picks, drafter.max_papers)];
        let due = [Due {
            subscriber,
            already_sent: SentPapers::default(),
            feedback: Vec::new(),
        }];
        let words = self.words_for_picks(&papers, &due, &picks, now).await;
        let [Due { subscriber, .. }] = due;
        Ok(drafter
            .draft(
                &subscriber,
                (&papers, &glossary, &examples),
                &picks[0],
                &words,
                now,
            )?
            .map(|d| d.message.body.html().into_owned()))
    }

    pub(super) fn news_since(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp() - i64::from(self.settings.briefing.lookback_hours) * 3600
    }

    pub(super) fn message_id(&self) -> String {
        message_id(self.sender.from().email.domain())
    }
}

/// A briefing's topics and papers, as the writing stage keys and asks for them.
fn briefing_papers<'a>(
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

impl Application {
    /// What the LLM wrote, or writes now, for a matched batch.
    async fn words_for_picks(
        &self,
        papers: &[StoredPaper],
        due: &[Due],
        picks: &[Kept],
        now: DateTime<Utc>,
    ) -> Words {
        if self.llm.is_none() {
            return Words::default();
        }
        let briefings: Vec<BriefingPapers> = due
            .iter()
            .zip(picks)
            .filter(|(_, picks)| !picks.is_empty())
            .map(|(d, picks)| briefing_papers(&d.subscriber, papers, picks))
            .collect();
        self.words_for(&briefings, now).await
    }
}
