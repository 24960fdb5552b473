//! The radar against hand-labelled relevance sets built from real abstracts
//! (`tests/fixtures/relevance/`, each written before the matcher was tuned;
//! its README says how). Every radar is matched against every recorded
//! paper at once, as a round would, with the settings a reader gets (no
//! options added); the figures are printed per radar and in all.

use std::collections::{HashMap, HashSet};

use academichub::domain::{Glossary, Paper, Topic};
use academichub::radar::{MatchOptions, RadarId, RadarIndex, RadarsBuilder, Why};
use academichub::sources::parse_feed;
use serde::Deserialize;

#[derive(Deserialize)]
struct Set {
    radar: Vec<Radar>,
}

#[derive(Deserialize)]
struct Radar {
    name: String,
    topics: Vec<TopicRow>,
    judgement: Vec<Judgement>,
}

#[derive(Deserialize)]
struct TopicRow {
    name: String,
    keywords: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    categories: Vec<String>,
}

#[derive(Deserialize)]
struct Judgement {
    paper: String,
    relevant: bool,
}

/// The cs.CV day the second set lists every relevant paper of.
const CV_DAY: &str = "feeds/arxiv-rss2-cs.CV-2026-04-21-real-day.xml";

/// Every recording the first set judges papers from.
const FEEDS: &[&str] = &[
    CV_DAY,
    "feeds/arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
    "feeds/arxiv-atom-cs.LG-2026-09-25.xml",
    "relevance/seed-papers.xml",
];

/// Every arXiv paper of these recordings, once, by id.
fn papers(feeds: &[&str]) -> Vec<(String, Paper)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for feed in feeds {
        let path = format!("{}/tests/fixtures/{feed}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap();
        for paper in parse_feed(&bytes).unwrap().papers {
            if let Some((id, _)) = &paper.arxiv
                && seen.insert(id.to_string())
            {
                out.push((id.to_string(), paper));
            }
        }
    }
    out
}

/// Each paper's position in `papers`, by arXiv id.
fn positions(papers: &[(String, Paper)]) -> HashMap<&str, usize> {
    papers
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect()
}

/// What one labelled set measures.
struct Figures {
    relevant: usize,
    found: usize,
    /// Judged papers among the first five picks (unjudged ones skipped).
    top5_judged: usize,
    top5_relevant: usize,
    judged_picked: usize,
    /// Every radar's picks, judged or not, in the set's order.
    picks: Vec<HashSet<usize>>,
}

impl Figures {
    fn recall(&self) -> f64 {
        self.found as f64 / self.relevant as f64
    }
    fn precision_at_5(&self) -> f64 {
        self.top5_relevant as f64 / self.top5_judged as f64
    }
    /// Of the judged papers picked, the relevant ones.
    fn judged_precision(&self) -> f64 {
        self.found as f64 / self.judged_picked as f64
    }
    /// Of every paper picked, the relevant ones: the precision of a set
    /// that lists every relevant paper of its day.
    fn precision(&self) -> f64 {
        self.found as f64 / self.picked() as f64
    }
    fn picked(&self) -> usize {
        self.picks.iter().map(HashSet::len).sum()
    }
}

/// A labelled set, a file in `tests/fixtures/relevance/`.
fn read_set(file: &str) -> Set {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/relevance/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    toml::from_str(&text).unwrap()
}

/// Every radar of `set`, typed as its topics say, indexed over `today`
/// (each paper known by its position there), with the glossary the store
/// would have learned from storing `stored`.
fn index_radars<'p>(
    set: &Set,
    today: &[&Paper],
    stored: impl IntoIterator<Item = &'p Paper>,
) -> (RadarIndex, Vec<RadarId>) {
    let pairs: Vec<(i64, &Paper)> = today
        .iter()
        .enumerate()
        .map(|(i, p)| (i as i64, *p))
        .collect();
    let mut builder =
        RadarsBuilder::new(&pairs, chrono::Utc::now()).with_glossary(Glossary::learn(stored));
    let radars = set
        .radar
        .iter()
        .map(|r| {
            let topics: Vec<Topic> = r
                .topics
                .iter()
                .map(|t| Topic::new(&t.name, &t.keywords, &t.categories, &t.exclude).unwrap())
                .collect();
            builder.add(&topics)
        })
        .collect();
    (builder.build(), radars)
}

/// Matches every radar of `set` (a file in `tests/fixtures/relevance/`)
/// against every paper of `feeds` and prints what it finds.
fn measure(set: &str, feeds: &[&str]) -> Figures {
    let set_rows = read_set(set);
    let papers = papers(feeds);
    let by_id = positions(&papers);
    let all: Vec<&Paper> = papers.iter().map(|(_, p)| p).collect();
    let (index, radars) = index_radars(&set_rows, &all, all.iter().copied());

    let mut all = Figures {
        relevant: 0,
        found: 0,
        top5_judged: 0,
        top5_relevant: 0,
        judged_picked: 0,
        picks: Vec::new(),
    };
    for (radar, id) in set_rows.radar.iter().zip(radars) {
        for j in &radar.judgement {
            assert!(
                by_id.contains_key(j.paper.as_str()),
                "{}: paper {} is not in the fixtures",
                radar.name,
                j.paper
            );
        }
        let verdicts: HashMap<usize, bool> = radar
            .judgement
            .iter()
            .map(|j| (by_id[j.paper.as_str()], j.relevant))
            .collect();
        let options = MatchOptions {
            max_per_topic: 1000,
            ..Default::default()
        };
        let mut hits: Vec<(usize, f32)> = index
            .match_radar(id, &options)
            .into_iter()
            .flat_map(|t| t.hits.into_iter().map(|h| (h.paper, h.score)))
            .collect();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1));
        let picked: HashSet<usize> = hits.iter().map(|h| h.0).collect();
        let radar_relevant = verdicts.values().filter(|r| **r).count();
        let radar_found = verdicts
            .iter()
            .filter(|(p, r)| **r && picked.contains(p))
            .count();
        let top5: Vec<bool> = hits
            .iter()
            .filter_map(|(p, _)| verdicts.get(p).copied())
            .take(5)
            .collect();
        let missed: Vec<&str> = radar
            .judgement
            .iter()
            .filter(|j| j.relevant && !picked.contains(&by_id[j.paper.as_str()]))
            .map(|j| j.paper.as_str())
            .collect();
        let wrong: Vec<&str> = radar
            .judgement
            .iter()
            .filter(|j| !j.relevant && picked.contains(&by_id[j.paper.as_str()]))
            .map(|j| j.paper.as_str())
            .collect();
        eprintln!(
            "{:30} recall {radar_found}/{radar_relevant}  precision@5 {}/{}  picked {}  missed: {missed:?}  wrong: {wrong:?}",
            radar.name,
            top5.iter().filter(|r| **r).count(),
            top5.len(),
            hits.len(),
        );
        all.relevant += radar_relevant;
        all.found += radar_found;
        all.top5_judged += top5.len();
        all.top5_relevant += top5.iter().filter(|r| **r).count();
        all.judged_picked += verdicts.keys().filter(|p| picked.contains(p)).count();
        all.picks.push(picked);
    }
    eprintln!(
        "{set}: recall {:.3} ({}/{}), precision {:.3} ({}/{} picks), precision of judged picks {:.3} ({}/{}), precision@5 {:.3} ({}/{})",
        all.recall(),
        all.found,
        all.relevant,
        all.precision(),
        all.found,
        all.picked(),
        all.judged_precision(),
        all.found,
        all.judged_picked,
        all.precision_at_5(),
        all.top5_relevant,
        all.top5_judged,
    );
    all
}

/// The first set judges a handful of candidates per radar, so its precision
/// is read at the top of each list.
#[test]
fn the_radar_finds_what_researchers_judged_relevant_and_ranks_it_first() {
    let figures = measure("judgements.toml", FEEDS);
    assert!(
        figures.recall() >= 0.85,
        "recall {:.3} < 0.85",
        figures.recall()
    );
    assert!(
        figures.precision_at_5() >= 0.85,
        "precision@5 {:.3} < 0.85",
        figures.precision_at_5()
    );
}

/// The best precision a filter could reach on a set that lists every
/// relevant paper of its day, if it knew nothing the title does not say:
/// it keeps every pick with the radar's words in its title and, of the
/// others, exactly the relevant ones.
struct TitleCeiling {
    relevant: usize,
    title_relevant: usize,
    title_wrong: usize,
    /// Of those, the ones with the reader's own keyword in the title (the
    /// others have a word the radar added: an acronym's or a field's).
    title_wrong_typed: usize,
    /// Relevant picks whose evidence is in the abstract alone.
    abstract_relevant: usize,
}

impl TitleCeiling {
    fn recall(&self) -> f64 {
        (self.title_relevant + self.abstract_relevant) as f64 / self.relevant as f64
    }
    fn precision(&self) -> f64 {
        let found = self.title_relevant + self.abstract_relevant;
        found as f64 / (found + self.title_wrong) as f64
    }
}

/// Matches `set` again on its papers' titles alone (abstracts emptied), to
/// tell which of `picks` (each radar's, as [`measure`] found them) a title
/// carries.
fn title_ceiling(set: &str, feeds: &[&str], picks: &[HashSet<usize>]) -> TitleCeiling {
    let set_rows = read_set(set);
    let papers = papers(feeds);
    let position = positions(&papers);
    let titles: Vec<Paper> = papers
        .iter()
        .map(|(_, p)| Paper {
            abstract_text: String::new(),
            ..p.clone()
        })
        .collect();
    let (title_index, radars) = index_radars(
        &set_rows,
        &titles.iter().collect::<Vec<_>>(),
        papers.iter().map(|(_, p)| p),
    );
    let options = MatchOptions {
        max_per_topic: 1000,
        ..Default::default()
    };
    let mut out = TitleCeiling {
        relevant: 0,
        title_relevant: 0,
        title_wrong: 0,
        title_wrong_typed: 0,
        abstract_relevant: 0,
    };
    for ((radar, id), picked) in set_rows.radar.iter().zip(radars).zip(picks) {
        let relevant: HashSet<usize> = radar
            .judgement
            .iter()
            .filter(|j| j.relevant)
            .map(|j| position[j.paper.as_str()])
            .collect();
        // Each pick a title carries, and whether a word the reader typed does.
        let in_title: HashMap<usize, bool> = title_index
            .match_radar(id, &options)
            .into_iter()
            .flat_map(|t| t.hits)
            .filter(|h| picked.contains(&h.paper))
            .map(|h| {
                let typed = h.matched.reasons().any(|w| matches!(w, Why::Term(_)));
                (h.paper, typed)
            })
            .collect();
        out.relevant += relevant.len();
        for p in picked {
            match (in_title.get(p), relevant.contains(p)) {
                (Some(_), true) => out.title_relevant += 1,
                (Some(&typed), false) => {
                    out.title_wrong += 1;
                    out.title_wrong_typed += usize::from(typed);
                }
                (None, true) => out.abstract_relevant += 1,
                (None, false) => {}
            }
        }
    }
    out
}

/// What the radar reached on the cs.CV day set (see the test below) on
/// 2026-12-05, with the names and words of the fields readers name
/// (`src/domain/fields.toml`, written without looking at this set), and a
/// keyword that opens with a field's name ("medical image classification")
/// bringing the field's words with the rest: recall 0.797 (173/217) at
/// precision 0.634 (173/273 picks), precision@5 0.893: 21 more relevant
/// papers for 19 more wrong ones (names and words alone: 0.788 at 0.633;
/// the words alone: 0.747 at 0.635). On 2026-12-04, with
/// acronyms read in the reader's sense: 0.700 at 0.652; on 2026-12-03:
/// 0.700 at 0.647; before revised papers were shown by default: 0.456 at
/// 0.615.
const RECALL_FLOOR: f64 = 0.79;
const PRECISION_FLOOR: f64 = 0.63;

/// The cs.CV day set lists every relevant paper of the day for each of its
/// radars, so every pick it does not call relevant is a wrong one. Issue 15
/// aimed at recall 0.80 at precision 0.85 here; the title ceiling the test
/// prints (0.852 at 0.797 on 2026-12-05: 30 picks with a radar's words in
/// their title, 21 of them with the reader's own keyword, are judged out
/// for intent only the radars' descriptions state) leaves room for it only
/// if every other wrong pick went and no relevant one. The test holds the
/// figures reached so far, so that no change loses them.
#[test]
fn on_a_whole_real_day_the_radar_keeps_its_recall_and_precision() {
    let figures = measure("cv-day-judgements.toml", &[CV_DAY]);
    let ceiling = title_ceiling("cv-day-judgements.toml", &[CV_DAY], &figures.picks);
    eprintln!(
        "cv-day picks with a radar's words in their title: {} relevant, {} not ({} of them with \
         the reader's own keyword); keeping those and only the relevant ones of the rest would \
         give recall {:.3} at precision {:.3}",
        ceiling.title_relevant,
        ceiling.title_wrong,
        ceiling.title_wrong_typed,
        ceiling.recall(),
        ceiling.precision(),
    );
    let (recall, precision) = (RECALL_FLOOR, PRECISION_FLOOR);
    assert!(
        figures.recall() >= recall,
        "recall {:.3} < {recall}",
        figures.recall()
    );
    assert!(
        figures.precision() >= precision,
        "precision {:.3} < {precision}",
        figures.precision()
    );
}

/// What feedback given in time order does ([`feedback_in_time_order`]).
#[derive(Debug, Clone, Copy, Default)]
struct TimeOrdered {
    recall: f64,
    precision: f64,
    /// Of the first five papers the topics pick (feedback re-ranks them).
    topic_precision_at_5: f64,
    /// Papers added for their likeness to liked ones, and the relevant ones.
    added: usize,
    added_relevant: usize,
}

/// Feedback judged in time order. The cs.CV day also announces revised
/// versions of papers first announced in earlier months (ids before 2604):
/// a reader saw those first. Their verdicts in the set become the reader's
/// "more / less like this" on them; the radar, with and without that
/// profile, is then scored on the papers first announced that day (2604.*)
/// alone, with the settings a reader gets.
fn feedback_in_time_order() -> [TimeOrdered; 2] {
    let set = read_set("cv-day-judgements.toml");
    let all = papers(&[CV_DAY]);
    let earlier = |id: &str| id < "2604";
    let by_id: HashMap<&str, &Paper> = all.iter().map(|(id, p)| (id.as_str(), p)).collect();
    let today: Vec<&(String, Paper)> = all.iter().filter(|(id, _)| !earlier(id)).collect();
    let position: HashMap<&str, usize> = today
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    let today: Vec<&Paper> = today.iter().map(|(_, p)| p).collect();
    let (index, radars) = index_radars(&set, &today, all.iter().map(|(_, p)| p));
    let mut out = [TimeOrdered::default(); 2];
    for (k, with_feedback) in [false, true].into_iter().enumerate() {
        let (mut relevant, mut found, mut picked, mut top5, mut top5_relevant) = (0, 0, 0, 0, 0);
        let (mut added, mut added_relevant) = (0, 0);
        for (radar, id) in set.radar.iter().zip(&radars) {
            let verdicts = |relevant: bool| -> Vec<&Paper> {
                radar
                    .judgement
                    .iter()
                    .filter(|j| earlier(&j.paper) && j.relevant == relevant)
                    .map(|j| by_id[j.paper.as_str()])
                    .collect()
            };
            let profile = index.profile(verdicts(true), verdicts(false));
            let options = MatchOptions {
                max_per_topic: 1000,
                profile: with_feedback.then_some(&profile),
                ..Default::default()
            };
            let judged: HashMap<usize, bool> = radar
                .judgement
                .iter()
                .filter(|j| !earlier(&j.paper))
                .map(|j| (position[j.paper.as_str()], j.relevant))
                .collect();
            let is_relevant = |p: &usize| judged.get(p) == Some(&true);
            let picks = index.match_radar(*id, &options);
            let mut topic_hits: Vec<(usize, f32)> = picks
                .iter()
                .filter(|t| t.topic.is_some())
                .flat_map(|t| t.hits.iter().map(|h| (h.paper, h.score)))
                .collect();
            topic_hits.sort_by(|a, b| b.1.total_cmp(&a.1));
            let similar: Vec<usize> = picks
                .iter()
                .filter(|t| t.topic.is_none())
                .flat_map(|t| t.hits.iter().map(|h| h.paper))
                .collect();
            let all_picked: HashSet<usize> = topic_hits
                .iter()
                .map(|h| h.0)
                .chain(similar.iter().copied())
                .collect();
            relevant += judged.values().filter(|r| **r).count();
            found += all_picked.iter().filter(|p| is_relevant(p)).count();
            picked += all_picked.len();
            let first: Vec<bool> = topic_hits
                .iter()
                .take(5)
                .map(|(p, _)| is_relevant(p))
                .collect();
            top5 += first.len();
            top5_relevant += first.iter().filter(|r| **r).count();
            added += similar.len();
            added_relevant += similar.iter().filter(|p| is_relevant(p)).count();
        }
        let figures = TimeOrdered {
            recall: found as f64 / relevant as f64,
            precision: found as f64 / picked as f64,
            topic_precision_at_5: top5_relevant as f64 / top5 as f64,
            added,
            added_relevant,
        };
        eprintln!(
            "feedback in time order, {}: recall {:.3} ({found}/{relevant}), precision {:.3} ({found}/{picked} picks), topics' precision@5 {:.3} ({top5_relevant}/{top5}), added for likeness {added} ({added_relevant} relevant)",
            if with_feedback {
                "with the earlier verdicts"
            } else {
                "without feedback"
            },
            figures.recall,
            figures.precision,
            figures.topic_precision_at_5,
        );
        out[k] = figures;
    }
    out
}

/// On 2026-12-05, with fields' names and words: without feedback recall
/// 0.819 (122/149) at precision 0.595 (122/205), topics' precision@5 0.863
/// (63/73); with the earlier verdicts recall 0.839 (125/149) at precision
/// 0.517 (125/242), the same precision@5, and 37 papers added for their
/// likeness, 3 of them relevant. On 2026-12-04, before fields, 7 of 38
/// were: the topics now pick four of those themselves, so what is left for
/// likeness to add is poorer. Re-ranking holds its ground; the added
/// look-alikes buy recall with precision (raising their threshold from
/// 0.15 to 0.2 leaves 13, 2 relevant, but then two liked Gaussian-splatting
/// papers no longer bring up the day's others: see `feedback.rs`).
const ADDED_PRECISION_FLOOR: f64 = 0.08;

/// Verdicts on earlier papers must not make the next papers' ranking worse,
/// and what they add must stay as good as it is.
#[test]
fn feedback_given_on_earlier_papers_is_judged_on_the_next_ones() {
    let [without, with] = feedback_in_time_order();
    assert!(
        with.topic_precision_at_5 >= without.topic_precision_at_5,
        "topics' precision@5 with feedback {:.3} < {:.3} without",
        with.topic_precision_at_5,
        without.topic_precision_at_5
    );
    assert!(
        with.recall > without.recall,
        "recall with feedback {:.3}, without {:.3}",
        with.recall,
        without.recall
    );
    let added = with.added_relevant as f64 / with.added as f64;
    assert!(
        added >= ADDED_PRECISION_FLOOR,
        "of the papers added for their likeness to liked ones, {added:.3} are relevant"
    );
}
