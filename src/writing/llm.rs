//! What the LLM writes, when `[llm]` is set.
//!
//! TL;DRs are written after collection, before any send hour, once per
//! paper and language readers read, and kept. So are the expansions an
//! LLM suggests for each distinct topic wording of active readers (what
//! the topic also matches, shown on the preferences page as suggested by
//! an AI model), asked once per wording. An analysis is written in
//! the round for each distinct (language, topics, papers) a batch needs
//! and kept under a hash of them, so identical radars cost one call and a
//! re-run costs none. Every call is bounded: by `llm.timeout_secs` (a
//! batch waits at most that long for all its analyses together), by
//! `llm.concurrency`, and by `llm.daily_token_budget`, counted in the
//! database so that every daemon shares it. After three failures in a row
//! the LLM is left alone for ten minutes, so a round's later batches do not
//! each wait out a timeout. Whatever is not written in
//! time, or fails, or is refused, is left to the built-in summariser: the
//! briefing goes out on time either way.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use tokio_util::sync::CancellationToken;

use crate::analysis::{AnalysisPaper, AnalysisRequest, Answer, Llm, LlmError, PaperText};
use crate::briefing::{source_badge, tldr_of_abstract};
use crate::config::{BriefingSettings, LlmSettings};
use crate::domain::{Analysis, AnalysisPart, Locale, Paper, Writer};
use crate::store::{Store, StoredPaper};
use crate::telemetry::metrics;

/// Papers per TL;DR request: a prompt of a few thousand tokens.
const TLDR_BATCH: usize = 8;
/// Analyses are kept this long after their papers stop being news (for a
/// late round), then forgotten.
const ANALYSES_KEPT_SECS: i64 = 86_400;
/// Failed calls in a row after which the LLM is left alone for a while
/// (it is down, overloaded or refusing): the round's later batches then
/// go straight to the built-in summariser instead of each waiting out a
/// timeout, which would push briefings past their send hour.
const REST_AFTER_FAILURES: usize = 3;
/// How long the LLM is left alone after that.
const REST_SECS: i64 = 600;

/// The LLM, and how it has been answering lately: shared by every pass
/// and batch of this daemon.
struct LlmState {
    llm: Llm,
    failures_in_a_row: AtomicUsize,
    /// Unix time before which nothing is asked.
    resting_until: AtomicI64,
}

impl LlmState {
    fn new(llm: Llm) -> Self {
        Self {
            llm,
            failures_in_a_row: AtomicUsize::new(0),
            resting_until: AtomicI64::new(0),
        }
    }

    fn resting(&self) -> bool {
        Utc::now().timestamp() < self.resting_until.load(Ordering::Relaxed)
    }

    fn answered(&self) {
        self.failures_in_a_row.store(0, Ordering::Relaxed);
    }

    fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        tracing::warn!(error = %error, "the LLM did not write {what}; the built-in summariser does");
        if self.failures_in_a_row.fetch_add(1, Ordering::Relaxed) + 1 >= REST_AFTER_FAILURES {
            self.failures_in_a_row.store(0, Ordering::Relaxed);
            self.resting_until
                .store(Utc::now().timestamp() + REST_SECS, Ordering::Relaxed);
            tracing::warn!(
                rest_secs = REST_SECS,
                "the LLM failed {REST_AFTER_FAILURES} times in a row; not asking it for a while"
            );
        }
    }
}

/// What the LLM wrote that a batch of briefings can use.
#[derive(Default)]
pub struct Words {
    /// By (paper id, language).
    pub tldrs: HashMap<(i64, Locale), String>,
    /// By subscriber id.
    pub analyses: HashMap<i64, Analysis>,
}

/// What writing TL;DRs did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TldrReport {
    pub written: usize,
    /// Papers left to the built-in summariser: failed or refused answers.
    pub failed: usize,
    /// Papers not asked for: the day's token budget is spent.
    pub over_budget: usize,
}

/// What asking for topics' expansions did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SuggestReport {
    /// Topic wordings the LLM suggested expansions for.
    pub suggested: usize,
    /// Wordings left without: failed or refused answers (asked again next time).
    pub failed: usize,
    /// Wordings not asked for: the day's token budget is spent.
    pub over_budget: usize,
}

/// One briefing's papers under its topics, as the analysis sees them.
pub struct BriefingPapers<'a> {
    /// Whose briefing it is.
    pub subscriber_id: i64,
    pub locale: Locale,
    /// (topic name, papers), in the briefing's order.
    pub sections: Vec<(&'a str, Vec<(i64, &'a Paper)>)>,
}

/// The cache key of an analysis: the language, and each topic's name with
/// its papers, in order.
fn analysis_key(briefing: &BriefingPapers<'_>) -> String {
    let mut hash = Sha256::new();
    hash.update(briefing.locale.to_string());
    for (topic, papers) in &briefing.sections {
        hash.update(b"\n");
        hash.update(topic);
        for (id, _) in papers {
            hash.update(format!(":{id}"));
        }
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// An analysis as stored: its text with `[P<paper id>]` for each paper.
fn stored_text(analysis: &Analysis) -> String {
    analysis
        .parts()
        .iter()
        .map(|p| match p {
            AnalysisPart::Text(t) => t.clone(),
            AnalysisPart::Paper(id) => format!("[P{id}]"),
        })
        .collect()
}

/// A stored analysis, checked again against the briefing's papers.
fn from_stored(body: &str, model: &str, briefing: &BriefingPapers<'_>) -> Option<Analysis> {
    let papers: HashMap<String, i64> = briefing
        .sections
        .iter()
        .flat_map(|(_, papers)| papers)
        .map(|(id, _)| (format!("P{id}"), *id))
        .collect();
    Analysis::from_marked(body, &papers, Writer::Llm(model.to_owned())).ok()
}

/// The writing stage: TL;DRs and expansions after collection, analyses
/// for the round's batches. Cheap to clone: the LLM's state is shared.
#[derive(Clone)]
pub struct Writing {
    store: Store,
    /// The LLM and how it has been answering, when `[llm]` is set.
    llm: Option<Arc<LlmState>>,
    settings: LlmSettings,
    /// What counts as news: `briefing.lookback_hours`.
    briefing: BriefingSettings,
    stopping: CancellationToken,
}

impl Writing {
    /// The stage for `[llm]` (nothing is written without `llm.base_url`);
    /// `stopping` ends its calls at shutdown.
    pub fn new(
        store: Store,
        settings: &LlmSettings,
        briefing: &BriefingSettings,
        stopping: CancellationToken,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            llm: Llm::from_settings(settings)?.map(|llm| Arc::new(LlmState::new(llm))),
            settings: settings.clone(),
            briefing: briefing.clone(),
            stopping,
        })
    }

    /// Whether an LLM is configured: without one, the round needs nothing
    /// from this stage.
    pub fn has_llm(&self) -> bool {
        self.llm.is_some()
    }

    fn news_since(&self, now: DateTime<Utc>) -> i64 {
        self.briefing.news_since(now)
    }

    /// True while today's tokens are under `llm.daily_token_budget`.
    async fn within_budget(&self, now: DateTime<Utc>) -> anyhow::Result<bool> {
        let budget = self.settings.daily_token_budget;
        if budget == 0 {
            return Ok(true);
        }
        let spent = self.tokens_spent_today(now).await?;
        Ok(u64::try_from(spent).unwrap_or(0) < budget)
    }

    /// Tokens spent today (UTC), by every daemon sharing the database.
    pub async fn tokens_spent_today(&self, now: DateTime<Utc>) -> anyhow::Result<i64> {
        Ok(self.store.tokens_spent(&day(now)).await?)
    }

    async fn spend(&self, now: DateTime<Utc>, tokens: u64) -> anyhow::Result<()> {
        let tokens = i64::try_from(tokens).unwrap_or(i64::MAX);
        Ok(self.store.spend_tokens(&day(now), tokens).await?)
    }

    /// Asks the LLM once (`call`), unless this daemon is stopping, the LLM is
    /// resting after failures or today's tokens are spent. An answer's tokens
    /// are counted against the budget and `keep` stores it before it is
    /// returned; a failure is logged as `what` and counts toward the rest.
    async fn ask<T>(
        &self,
        state: &LlmState,
        now: DateTime<Utc>,
        purpose: Purpose,
        call: impl Future<Output = Result<Answer<T>, LlmError>>,
        keep: impl AsyncFnOnce(&T) -> anyhow::Result<()>,
    ) -> anyhow::Result<Asked<T>> {
        if self.stopping.is_cancelled() {
            return Ok(Asked::Skipped);
        }
        if state.resting() {
            metrics::llm_fallback(purpose.label(), "resting");
            return Ok(Asked::Skipped);
        }
        if !self.within_budget(now).await? {
            metrics::llm_fallback(purpose.label(), "over_budget");
            return Ok(Asked::OverBudget);
        }
        match call.await {
            Ok(answer) => {
                metrics::llm_asked(purpose.label(), true, answer.tokens);
                state.answered();
                self.spend(now, answer.tokens).await?;
                keep(&answer.value).await?;
                Ok(Asked::Written(answer.value))
            }
            Err(e) => {
                metrics::llm_asked(purpose.label(), false, 0);
                metrics::llm_fallback(purpose.label(), "failed");
                state.failed(purpose.what(), &e);
                Ok(Asked::Failed)
            }
        }
    }

    /// TL;DRs for the recent papers that lack one, in each language active
    /// readers read; and old analyses forgotten. Without `[llm]`, nothing.
    pub async fn write_tldrs(&self, now: DateTime<Utc>) -> anyhow::Result<TldrReport> {
        let mut report = TldrReport::default();
        let Some(state) = self.llm.clone() else {
            return Ok(report);
        };
        self.store
            .drop_old_analyses(self.news_since(now) - ANALYSES_KEPT_SECS)
            .await?;
        let papers = self.store.recent_papers(self.news_since(now)).await?;
        let ids: Vec<i64> = papers.iter().map(|p| p.id).collect();
        let have = self.store.tldrs_of(&ids).await?;
        let mut jobs: Vec<(Locale, Vec<&StoredPaper>)> = Vec::new();
        for locale in self.store.reader_locales().await? {
            let Ok(locale) = locale.parse::<Locale>() else {
                continue;
            };
            let missing: Vec<&StoredPaper> = papers
                .iter()
                .filter(|p| !have.contains_key(&(p.id, locale.to_string())))
                .collect();
            jobs.extend(
                missing
                    .chunks(TLDR_BATCH)
                    .map(|chunk| (locale, chunk.to_vec())),
            );
        }
        let mut results = futures_util::stream::iter(jobs)
            .map(|(locale, chunk)| {
                let state = &state;
                let llm = &state.llm;
                async move {
                    let texts: Vec<PaperText> = chunk
                        .iter()
                        .map(|p| PaperText {
                            id: p.id,
                            title: &p.paper.title,
                            abstract_text: &p.paper.abstract_text,
                        })
                        .collect();
                    let keep = async |tldrs: &Vec<String>| {
                        let lang = locale.to_string();
                        let rows: Vec<_> = chunk
                            .iter()
                            .zip(tldrs)
                            .map(|(p, tldr)| (p.id, lang.as_str(), tldr.as_str()))
                            .collect();
                        Ok(self
                            .store
                            .save_tldrs(&rows, llm.model(), now.timestamp())
                            .await?)
                    };
                    let asked = self
                        .ask(state, now, Purpose::Tldrs, llm.tldrs(&texts, locale), keep)
                        .await?;
                    Ok::<_, anyhow::Error>((asked, chunk.len()))
                }
            })
            .buffer_unordered(state.llm.concurrency());
        while let Some(result) = results.next().await {
            let (asked, n) = result?;
            match asked {
                Asked::Written(_) => report.written += n,
                Asked::Failed | Asked::Skipped => report.failed += n,
                Asked::OverBudget => report.over_budget += n,
            }
        }
        Ok(report)
    }

    /// Expansions suggested by the LLM for every distinct wording of active
    /// readers' topics that has none yet
    /// ([`crate::domain::Query::words_key`]). Without
    /// `[llm]`, nothing; whatever fails is asked again on the next pass, and
    /// meanwhile the topic matches the reader's words and the glossary's.
    pub async fn suggest_expansions(&self, now: DateTime<Utc>) -> anyhow::Result<SuggestReport> {
        let mut report = SuggestReport::default();
        let Some(state) = self.llm.clone() else {
            return Ok(report);
        };
        let have = self.store.suggestions().await?;
        let mut wanted: Vec<(String, Vec<String>)> = Vec::new();
        for query in self.store.active_queries().await? {
            let Some(key) = query.words_key() else {
                continue;
            };
            if !have.contains_key(&key) && !wanted.iter().any(|(k, _)| *k == key) {
                let terms = query.groups()[0]
                    .iter()
                    .map(|t| t.text().to_owned())
                    .collect();
                wanted.push((key, terms));
            }
        }
        let mut results = futures_util::stream::iter(wanted)
            .map(|(key, terms)| {
                let state = &state;
                async move {
                    let terms: Vec<&str> = terms.iter().map(String::as_str).collect();
                    let keep = async |suggested: &Vec<String>| {
                        let model = state.llm.model();
                        Ok(self
                            .store
                            .save_suggestions(&key, suggested, model, now.timestamp())
                            .await?)
                    };
                    let call = state.llm.expansions(&terms);
                    self.ask(state, now, Purpose::Expansions, call, keep).await
                }
            })
            .buffer_unordered(state.llm.concurrency());
        while let Some(result) = results.next().await {
            match result? {
                Asked::Written(_) => report.suggested += 1,
                Asked::Failed | Asked::Skipped => report.failed += 1,
                Asked::OverBudget => report.over_budget += 1,
            }
        }
        Ok(report)
    }

    /// What the LLM wrote for these briefings: their papers' stored TL;DRs,
    /// and an analysis for each distinct key, stored or asked for now
    /// (within `llm.timeout_secs` for the whole batch). Never fails the
    /// round: a database or LLM error leaves the built-in summariser.
    pub async fn words_for(&self, briefings: &[BriefingPapers<'_>], now: DateTime<Utc>) -> Words {
        match self.try_words_for(briefings, now).await {
            Ok(words) => words,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "cannot read or keep what the LLM wrote; these briefings use the built-in summariser"
                );
                Words::default()
            }
        }
    }

    async fn try_words_for(
        &self,
        briefings: &[BriefingPapers<'_>],
        now: DateTime<Utc>,
    ) -> anyhow::Result<Words> {
        let mut words = Words::default();
        let Some(state) = self.llm.clone() else {
            return Ok(words);
        };
        let mut ids: Vec<i64> = briefings
            .iter()
            .flat_map(|b| &b.sections)
            .flat_map(|(_, papers)| papers.iter().map(|(id, _)| *id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for ((id, locale), tldr) in self.store.tldrs_of(&ids).await? {
            if let Ok(locale) = locale.parse::<Locale>() {
                words.tldrs.insert((id, locale), tldr);
            }
        }

        let keys: Vec<String> = briefings.iter().map(analysis_key).collect();
        let mut wanted: HashMap<&str, &BriefingPapers> = HashMap::new();
        for (key, b) in keys.iter().zip(briefings) {
            wanted.entry(key).or_insert(b);
        }
        let distinct: Vec<String> = wanted.keys().map(|k| (*k).to_owned()).collect();
        let mut analyses: HashMap<String, Analysis> = HashMap::new();
        for (key, (body, model)) in self.store.analyses(&distinct).await? {
            if let Some(analysis) = wanted
                .get(key.as_str())
                .and_then(|b| from_stored(&body, &model, b))
            {
                analyses.insert(key, analysis);
            }
        }
        let missing: Vec<(String, &BriefingPapers)> = wanted
            .into_iter()
            .filter(|(key, _)| !analyses.contains_key(*key))
            .map(|(key, b)| (key.to_owned(), b))
            .collect();
        let tldrs = words.tldrs;
        let deadline =
            tokio::time::Instant::now() + Duration::from_secs(self.settings.timeout_secs);
        let mut asked = futures_util::stream::iter(missing)
            .map(|(key, briefing)| {
                let (state, tldrs) = (&state, &tldrs);
                let llm = &state.llm;
                async move {
                    let shown = shown(briefing, tldrs);
                    let request = analysis_request(briefing, &shown);
                    let keep = async |analysis: &Analysis| {
                        let text = stored_text(analysis);
                        Ok(self
                            .store
                            .save_analysis(&key, &text, llm.model(), now.timestamp())
                            .await?)
                    };
                    let asked = self
                        .ask(state, now, Purpose::Analysis, llm.analysis(&request), keep)
                        .await?;
                    Ok::<_, anyhow::Error>(match asked {
                        Asked::Written(analysis) => Some((key, analysis)),
                        Asked::OverBudget => {
                            tracing::info!("the LLM's daily token budget is spent; the built-in summariser writes today's remaining analyses");
                            None
                        }
                        Asked::Failed | Asked::Skipped => None,
                    })
                }
            })
            .buffer_unordered(state.llm.concurrency());
        loop {
            match tokio::time::timeout_at(deadline, asked.next()).await {
                Ok(Some(result)) => {
                    if let Some((key, analysis)) = result? {
                        analyses.insert(key, analysis);
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    state.failed(
                        "every analysis of this batch in time",
                        &format!("not done within {} s", self.settings.timeout_secs),
                    );
                    break;
                }
            }
        }
        drop(asked);
        let by_subscriber = keys
            .iter()
            .zip(briefings)
            .filter_map(|(key, b)| Some((b.subscriber_id, analyses.get(key)?.clone())))
            .collect();
        Ok(Words {
            tldrs,
            analyses: by_subscriber,
        })
    }
}

/// What the LLM is asked for: named in logs and in metrics' labels.
#[derive(Debug, Clone, Copy)]
enum Purpose {
    Tldrs,
    Expansions,
    Analysis,
}

impl Purpose {
    /// For a log line: "the LLM did not write {what}".
    fn what(self) -> &'static str {
        match self {
            Self::Tldrs => "TL;DRs",
            Self::Expansions => "a topic's expansions",
            Self::Analysis => "an analysis",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Tldrs => "tldr",
            Self::Expansions => "expansions",
            Self::Analysis => "analysis",
        }
    }
}

/// What one guarded call to the LLM ([`Writing::ask`]) came to.
enum Asked<T> {
    /// Answered, counted and kept.
    Written(T),
    /// Failed or refused: it counts toward the LLM's rest.
    Failed,
    /// Not asked: the daemon is stopping or the LLM is resting.
    Skipped,
    /// Not asked: today's tokens are spent.
    OverBudget,
}

/// `YYYY-MM-DD` in UTC: the budget's day.
fn day(now: DateTime<Utc>) -> String {
    now.date_naive().to_string()
}

/// What the LLM is told of a briefing: its topics, and each paper with
/// its source and TL;DR as the briefing shows them (`shown`, in order).
fn analysis_request<'a>(
    briefing: &'a BriefingPapers<'a>,
    shown: &'a [(String, String)],
) -> AnalysisRequest<'a> {
    let topics = briefing.sections.iter().map(|(t, _)| *t).collect();
    let papers = briefing
        .sections
        .iter()
        .flat_map(|(topic, papers)| papers.iter().map(move |(id, p)| (*topic, *id, *p)))
        .zip(shown)
        .map(|((topic, id, p), (source, tldr))| AnalysisPaper {
            id,
            title: &p.title,
            tldr,
            topic,
            source,
        })
        .collect();
    AnalysisRequest {
        locale: briefing.locale,
        topics,
        papers,
    }
}

/// Each paper's source badge and TL;DR (stored, or the abstract's start).
fn shown(
    briefing: &BriefingPapers<'_>,
    tldrs: &HashMap<(i64, Locale), String>,
) -> Vec<(String, String)> {
    briefing
        .sections
        .iter()
        .flat_map(|(_, papers)| papers)
        .map(|(id, p)| {
            let tldr = tldrs
                .get(&(*id, briefing.locale))
                .cloned()
                .unwrap_or_else(|| tldr_of_abstract(&p.abstract_text));
            (source_badge(p), tldr)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LlmSettings;

    fn state() -> LlmState {
        let settings = LlmSettings {
            base_url: Some("http://127.0.0.1:9/v1".into()),
            ..LlmSettings::default()
        };
        LlmState::new(Llm::from_settings(&settings).unwrap().unwrap())
    }

    #[test]
    fn three_failures_in_a_row_rest_the_llm_and_an_answer_forgives() {
        let state = state();
        state.failed("a", &"x");
        state.failed("a", &"x");
        state.answered();
        state.failed("a", &"x");
        state.failed("a", &"x");
        assert!(!state.resting(), "an answer in between resets the count");
        state.failed("a", &"x");
        assert!(state.resting());
        let until = state.resting_until.load(Ordering::Relaxed);
        assert!((REST_SECS - 5..=REST_SECS).contains(&(until - Utc::now().timestamp())));
    }
}
