//! The round's briefings made again outside the round: a sent briefing
//! for the web once its message body is dropped, the papers it left out
//! for its size, and the preview an operator asks for.

use chrono::{DateTime, NaiveDate, Utc};

use super::Round;
use super::drafter::sections_of;
use super::matching::{Due, builder_for, match_due, within_total};
use crate::briefing::Section;
use crate::domain::{Glossary, SentPapers, Subscriber};
use crate::radar::{Examples, TopicPicks};
use crate::store::StoredPaper;

impl Round {
    /// A briefing made from what it recorded (its papers under their
    /// topics), for the web view once the sent message's body is dropped.
    pub async fn render_again(
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
    pub async fn render_left_out(
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
            .drafter
            .render(subscriber, sections, None, edition, now, left_out)?;
        Ok(Some(rendered.html))
    }

    /// The subscriber and today's papers, matched as the round would.
    pub(super) async fn match_one(
        &self,
        subscriber: Subscriber,
        now: DateTime<Utc>,
    ) -> anyhow::Result<(
        Subscriber,
        Vec<StoredPaper>,
        (Glossary, Examples),
        Vec<TopicPicks>,
    )> {
        let papers = self
            .store
            .recent_papers(self.briefing.news_since(now))
            .await?;
        let glossary = self.store.glossary().await?;
        let examples = self.examples_for([&subscriber]).await?;
        let due = [self.due(subscriber, now).await?];
        let max = self.briefing.max_per_topic;
        let builder = builder_for(&papers, &glossary, now).with_examples(examples.clone());
        let picks = match_due(builder, &due, max).pop().unwrap_or_default();
        let [Due { subscriber, .. }] = due;
        Ok((subscriber, papers, (glossary, examples), picks))
    }

    /// The HTML a subscriber would receive if a briefing were made now.
    pub async fn preview(
        &self,
        subscriber: Subscriber,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        let (subscriber, papers, (glossary, examples), picks) =
            self.match_one(subscriber, now).await?;
        let drafter = &self.drafter;
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
}
