//! One storage story, told on SQLite and on PostgreSQL.

use std::collections::HashSet;

use academichub::domain::OutgoingMessage;
use academichub::domain::{EmailAddress, Locale, NewSubscriber, SentPapers, Topic};
use academichub::sources::parse_feed;
use academichub::store::{Arrival, BriefingItem, LeftOutItem, NewBriefing, Store};

use crate::helpers::{TestDb, fixture, sql_exec};

fn message(to: &str) -> OutgoingMessage {
    OutgoingMessage {
        recipient: academichub::domain::EmailAddress::parse(to).unwrap(),
        subject: "s".into(),
        body: academichub::domain::MessageBody::encode("<p>h</p>", "t"),
        message_id: format!("<{to}@hub.test>"),
        unsubscribe_url: Some("https://hub.test/unsubscribe/x".into()),
    }
}

#[tokio::test]
async fn the_storage_story_holds_on_every_backend() {
    for db in TestDb::all("the_storage_story_holds_on_every_backend").await {
        story(&db).await;
        db.drop_db().await;
    }
}

async fn story(db: &TestDb) {
    let label = db.label;
    let store = Store::open(&db.url, 4).await.unwrap();
    if label == "sqlite" {
        let file = db.url.strip_prefix("sqlite://").unwrap();
        assert!(
            std::path::Path::new(&format!("{file}-wal")).exists(),
            "SQLite runs in WAL mode"
        );
    }
    // Opening again re-runs migrations harmlessly.
    let store2 = Store::open(&db.url, 4).await.unwrap();
    store2.close().await;

    // Papers: the same mailing from two feeds is stored once.
    let papers = parse_feed(&fixture(
        "arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
    ))
    .unwrap()
    .papers;
    let cs_lg = store
        .ensure_source("https://rss.arxiv.org/rss/cs.LG", "cs.LG", 1)
        .await
        .unwrap();
    let stat_ml = store
        .ensure_source("https://rss.arxiv.org/rss/stat.ML", "stat.ML", 1)
        .await
        .unwrap();
    let first = store
        .upsert_papers(&papers, cs_lg.id, 1_000, Arrival::Collected)
        .await
        .unwrap();
    let second = store
        .upsert_papers(&papers, stat_ml.id, 1_100, Arrival::Collected)
        .await
        .unwrap();
    assert_eq!(
        (first.new, first.updated, second.new, second.updated),
        (4, 0, 0, 4),
        "[{label}]"
    );
    assert_eq!(store.paper_count().await.unwrap(), 4);
    // What acronyms stand for, learned once per paper (not per feed).
    let glossary = store.glossary().await.unwrap();
    assert_eq!(
        glossary.senses("ECG"),
        [("electrocardiogram".to_owned(), 1)],
        "[{label}]"
    );
    assert_eq!(
        glossary.senses("FCA"),
        [("formal concept analysis".to_owned(), 1)],
        "[{label}]"
    );
    // A database whose papers were stored before the glossary existed
    // learns their acronyms once, when it is migrated.
    sql_exec(&db.url, "DELETE FROM acronyms").await;
    sql_exec(
        &db.url,
        "DELETE FROM settings WHERE name = 'glossary_learned'",
    )
    .await;
    let upgraded = Store::open(&db.url, 4).await.unwrap();
    upgraded.close().await;
    let again = Store::open(&db.url, 4).await.unwrap();
    again.close().await;
    let relearned = store.glossary().await.unwrap();
    assert_eq!(
        relearned.senses("ECG"),
        [("electrocardiogram".to_owned(), 1)],
        "[{label}] counted once, however often the database is opened"
    );
    let recent = store.recent_papers(900).await.unwrap();
    assert_eq!(recent.len(), 4, "[{label}]");
    let odin = recent
        .iter()
        .find(|p| p.paper.title.starts_with("Outlier"))
        .unwrap();
    assert_eq!(
        odin.paper, papers[2],
        "[{label}] a paper reads back as it was stored"
    );
    assert_eq!(
        odin.first_seen_at, 1_000,
        "[{label}] first sighting is kept"
    );
    assert!(store.recent_papers(1_001).await.unwrap().is_empty());

    // A feed announcing a paper another feed owns cannot rewrite it.
    let hostile_feed = store
        .ensure_source("https://evil.test/rss", "evil", 2)
        .await
        .unwrap();
    let mut forged = papers[2].clone();
    forged.title = "Pwned".into();
    forged.url = "https://evil.test/phish".into();
    forged.authors = vec!["Mallory".into()];
    store
        .upsert_papers(&[forged], hostile_feed.id, 1_200, Arrival::Collected)
        .await
        .unwrap();
    let kept = store.recent_papers(900).await.unwrap();
    let kept = kept.iter().find(|p| p.id == odin.id).unwrap();
    assert_eq!(
        (&kept.paper.title, &kept.paper.url, &kept.paper.authors),
        (&papers[2].title, &papers[2].url, &papers[2].authors),
        "[{label}] the owning feed's text and link stay"
    );

    // Subscribers and their radar; a second subscribe adds a topic.
    let email = EmailAddress::parse("ada@example.org").unwrap();
    let ada = NewSubscriber {
        email: email.clone(),
        locale: Locale::Zh,
        timezone: chrono_tz::Asia::Shanghai,
        send_hour: academichub::domain::SendHour::new(6).unwrap(),
    };
    let t1 = Topic::new("Outliers", ["outlier detection"], ["stat.ML"], ["fraud"]).unwrap();
    let t2 = Topic::new("Polytopes", ["polytope"], [] as [&str; 0], [] as [&str; 0]).unwrap();
    let (id, created) = store
        .save_subscriber(&ada, std::slice::from_ref(&t1), 1_000)
        .await
        .unwrap();
    assert!(created);
    let (id_again, created) = store
        .save_subscriber(&ada, std::slice::from_ref(&t2), 1_001)
        .await
        .unwrap();
    assert_eq!((id_again, created), (id, false));
    let found = store.find_subscriber(&email).await.unwrap().unwrap();
    assert_eq!(
        (found.locale, found.timezone, found.send_hour),
        (
            Locale::Zh,
            chrono_tz::Asia::Shanghai,
            academichub::domain::SendHour::new(6).unwrap()
        )
    );
    assert_eq!(found.topics, [t1, t2], "[{label}]");
    assert_eq!(
        store.active_subscribers_after(0, 10).await.unwrap().len(),
        1
    );

    // A briefing and its outbox row are made together, once per edition,
    // with the papers its size left out (not sent: they stay news).
    let polytopes = recent.iter().find(|p| p.id != odin.id).unwrap();
    let briefing = NewBriefing {
        subscriber_id: id,
        edition: "2026-11-23".into(),
        items: vec![BriefingItem {
            paper_id: odin.id,
            version: odin.paper.arxiv.as_ref().and_then(|(_, v)| *v),
            topic: "Outliers".into(),
        }],
        left_out: vec![LeftOutItem {
            paper_id: polytopes.id,
            topic: "Polytopes".into(),
            matched: vec!["polytope".into(), "random".into()],
        }],
        message: message("ada@example.org"),
    };
    assert!(
        store
            .create_briefing(&briefing, 2_000)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .create_briefing(&briefing, 2_001)
            .await
            .unwrap()
            .is_none(),
        "[{label}] one per edition"
    );
    assert!(store.has_briefing(id, "2026-11-23").await.unwrap());
    assert_eq!(
        store.papers_already_sent(id, 900).await.unwrap(),
        SentPapers {
            current: HashSet::from([odin.id]),
            earlier: HashSet::new(),
        }
    );
    let left_out = store.briefing_left_out(id, "2026-11-23").await.unwrap();
    assert_eq!(
        left_out
            .iter()
            .map(|(topic, matched, p)| (topic.as_str(), matched.clone(), p.id))
            .collect::<Vec<_>>(),
        [(
            "Polytopes",
            vec!["polytope".to_owned(), "random".to_owned()],
            polytopes.id
        )],
        "[{label}]"
    );

    // The outbox: claim with a lease, defer, release, send.
    let claimed = claim_one(&store, 2_600).await.expect("a queued message");
    assert_eq!(
        (claimed.attempts, claimed.message.clone()),
        (1, message("ada@example.org"))
    );
    assert!(claim_one(&store, 2_601).await.is_none(), "[{label}] leased");
    assert!(
        store
            .mark_retry(&claimed, "451 try later", 2_000, 3_000)
            .await
            .unwrap()
    );
    assert!(
        claim_one(&store, 2_602).await.is_none(),
        "[{label}] backing off"
    );
    assert_eq!(store.release_retries(2_003).await.unwrap(), 1);
    store.sweep(2_003, 0, 0).await.unwrap();
    let again = claim_one(&store, 2_603).await.unwrap();
    assert_eq!((again.id, again.attempts), (claimed.id, 2));
    // An outage puts it back without counting the attempt.
    assert!(
        store
            .release_after_outage(&again, "connection refused")
            .await
            .unwrap()
    );
    let again = claim_one(&store, 2_604).await.unwrap();
    assert_eq!((again.id, again.attempts), (claimed.id, 2), "[{label}]");
    // A worker that died holding the lease: the message is taken over after it expires.
    assert!(claim_one(&store, 3_100).await.is_none());
    assert_eq!(
        store.sweep(2_700, 0, 0).await.unwrap().interrupted,
        1,
        "[{label}] the message in flight at the crash is counted"
    );
    let taken_over = claim_one(&store, 3_300).await.unwrap();
    assert_eq!((taken_over.id, taken_over.attempts), (claimed.id, 3));
    // The worker that lost its lease cannot record over the one that took over.
    assert!(
        !store
            .mark_retry(&again, "late news", 9_000, 9_999)
            .await
            .unwrap(),
        "[{label}] a lost lease records nothing"
    );
    assert!(store.mark_sent(&taken_over, 2_701).await.unwrap());
    let counts = store.outbox_counts().await.unwrap();
    assert_eq!((counts.sent, counts.pending()), (1, 0), "[{label}]");

    // Feed state survives between runs.
    let source = store
        .ensure_source("https://x.test/rss", "x", 1)
        .await
        .unwrap();
    store
        .record_fetch_error(source.id, "HTTP 500", 301)
        .await
        .unwrap();
    let source = store
        .ensure_source("https://x.test/rss", "x", 2)
        .await
        .unwrap();
    assert_eq!(
        (
            source.error_count,
            source.next_check_at,
            source.last_error.as_deref()
        ),
        (1, 301, Some("HTTP 500"))
    );
    store
        .record_fetch_success(source.id, Some("\"e1\""), None, None, 400, 4_000)
        .await
        .unwrap();
    let source = store
        .ensure_source("https://x.test/rss", "x", 3)
        .await
        .unwrap();
    assert_eq!(
        (
            source.error_count,
            source.etag.as_deref(),
            source.last_error
        ),
        (0, Some("\"e1\""), None)
    );

    // The link key is made once and then stable.
    let sign = |secret| {
        academichub::domain::LinkKeys::new(vec![secret])
            .unwrap()
            .sign(academichub::domain::LinkClaims {
                subscriber_id: id,
                nonce: 1,
                action: academichub::domain::LinkAction::Unsubscribe,
                object: 0,
                issued_at: 5,
            })
    };
    assert_eq!(
        sign(store.link_secret().await.unwrap()),
        sign(store.link_secret().await.unwrap())
    );

    // A new version of a paper ada received is recent again, and sent to
    // her only in an earlier version (news to topics that ask `with:updates`).
    let mut v3 = papers[2].clone();
    let (arxiv_id, _) = v3.arxiv.clone().unwrap();
    v3.arxiv = Some((arxiv_id, Some(3)));
    v3.announce_type = Some(academichub::domain::AnnounceType::Replace);
    store
        .upsert_papers(&[v3.clone()], cs_lg.id, 3_000, Arrival::Collected)
        .await
        .unwrap();
    let recent = store.recent_papers(2_500).await.unwrap();
    assert_eq!(recent.len(), 1, "[{label}]");
    assert_eq!(
        (
            recent[0].id,
            recent[0].paper.arxiv.as_ref().unwrap().1,
            recent[0].paper.announce_type
        ),
        (
            odin.id,
            Some(3),
            Some(academichub::domain::AnnounceType::Replace)
        ),
        "[{label}]"
    );
    assert_eq!(
        store.papers_already_sent(id, 900).await.unwrap(),
        SentPapers {
            current: HashSet::new(),
            earlier: HashSet::from([odin.id]),
        },
        "[{label}]"
    );
    // Seeing the same version again is not news.
    store
        .upsert_papers(&[v3], cs_lg.id, 3_100, Arrival::Collected)
        .await
        .unwrap();
    assert!(
        store.recent_papers(3_050).await.unwrap().is_empty(),
        "[{label}]"
    );
    store.close().await;
}

#[tokio::test]
async fn concurrent_workers_never_claim_the_same_message() {
    for db in TestDb::all("concurrent_workers_never_claim_the_same_message").await {
        let store = Store::open(&db.url, 8).await.unwrap();
        for n in 0..30 {
            let email = EmailAddress::parse(&format!("r{n}@example.org")).unwrap();
            let s = NewSubscriber {
                email,
                locale: Locale::En,
                timezone: chrono_tz::UTC,
                send_hour: academichub::domain::SendHour::new(0).unwrap(),
            };
            let topic = Topic::new("t", ["x"], [] as [&str; 0], [] as [&str; 0]).unwrap();
            let (id, _) = store.save_subscriber(&s, &[topic], 0).await.unwrap();
            let b = NewBriefing {
                subscriber_id: id,
                edition: "2026-11-23".into(),
                items: vec![],
                left_out: vec![],
                message: message(&format!("r{n}@example.org")),
            };
            store.create_briefing(&b, 0).await.unwrap().unwrap();
        }
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    while let Some(m) = claim_one(&store, 1_000).await {
                        mine.push(m.id);
                        assert!(store.mark_sent(&m, 11).await.unwrap());
                    }
                    mine
                })
            })
            .collect();
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.unwrap());
        }
        let unique: HashSet<_> = all.iter().collect();
        assert_eq!(
            (all.len(), unique.len()),
            (30, 30),
            "[{}] each message claimed exactly once",
            db.label
        );
        store.close().await;
        db.drop_db().await;
    }
}

/// One queued message claimed, as a sending worker claims them.
async fn claim_one(store: &Store, lease_until: i64) -> Option<academichub::store::ClaimedMessage> {
    store.claim_messages(lease_until, 1).await.unwrap().pop()
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_version_is_refused() {
    for db in TestDb::all("a_database_migrated_by_a_newer_version_is_refused").await {
        let store = Store::open(&db.url, 2).await.unwrap();
        store.close().await;
        crate::helpers::sql_exec(
            &db.url,
            if db.label == "postgres" {
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                 VALUES (99990101000001, 'from the future', TRUE, '\\x00'::bytea, 0)"
            } else {
                "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
                 VALUES (99990101000001, 'from the future', TRUE, X'00', 0)"
            },
        )
        .await;
        let refused = Store::open(&db.url, 2).await.unwrap_err().to_string();
        assert!(
            refused.contains("migration 99990101000001") && refused.contains("newer version"),
            "[{}] {refused}",
            db.label
        );
        db.drop_db().await;
    }
}

/// A preprint and its journal version, whichever arrives first, are one
/// paper: the journal's appearance is remembered for the card, never news
/// again. The links are as the sources state them (bioRxiv's `published`,
/// arXiv's `arxiv:DOI`, Crossref's `relation`); the recorded answers carry
/// none that meet each other, so the test names the journal DOI itself.
#[tokio::test]
async fn a_preprint_and_its_journal_version_are_one_paper() {
    use academichub::domain::PaperKey;
    for db in TestDb::all("a_preprint_and_its_journal_version_are_one_paper").await {
        let label = db.label;
        let store = Store::open(&db.url, 2).await.unwrap();
        let api = |name: &str| {
            std::fs::read(format!("{}/../api/{name}", crate::helpers::FIXTURES)).unwrap()
        };
        let mut preprints = academichub::sources::biorxiv::parse_details(
            &api("biorxiv_api_details_2026-08-01_2026-08-05_trimmed_reformatted.json"),
            "bioRxiv",
            None,
        )
        .unwrap()
        .papers;
        let journal = academichub::sources::crossref::parse_works(&api(
            "crossref_journal_works_2167-8359_peerj_2026-06-16.json",
        ))
        .unwrap()
        .papers;
        let source = store.ensure_source("test", "test", 1).await.unwrap();
        let upsert = |papers: Vec<academichub::domain::Paper>, at: i64| {
            let store = store.clone();
            async move {
                store
                    .upsert_papers(&papers, source.id, at, Arrival::Collected)
                    .await
                    .unwrap()
            }
        };

        // bioRxiv says the preprint appeared as the first PeerJ article.
        let (preprint, version) = (&mut preprints[0], journal[0].clone());
        let journal_doi = version.doi.clone().unwrap();
        preprint.related = vec![PaperKey::Doi(journal_doi.clone())];
        let preprint = preprint.clone();
        assert_eq!(upsert(vec![preprint.clone()], 1_000).await.new, 1);
        // A reader was sent the preprint before the journal version came.
        let preprint_id = store.recent_papers(0).await.unwrap()[0].id;
        let reader = NewSubscriber {
            email: EmailAddress::parse("ada@example.org").unwrap(),
            locale: Locale::En,
            timezone: chrono_tz::UTC,
            send_hour: academichub::domain::SendHour::new(0).unwrap(),
        };
        let topic = Topic::new("t", ["x"], [] as [&str; 0], [] as [&str; 0]).unwrap();
        let (reader, _) = store.save_subscriber(&reader, &[topic], 0).await.unwrap();
        let briefing = NewBriefing {
            subscriber_id: reader,
            edition: "2026-08-05".into(),
            items: vec![BriefingItem {
                paper_id: preprint_id,
                version: None,
                topic: "t".into(),
            }],
            left_out: vec![],
            message: message("ada@example.org"),
        };
        store
            .create_briefing(&briefing, 1_500)
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .papers_already_sent(reader, 0)
                .await
                .unwrap()
                .current
                .contains(&preprint_id)
        );
        let counts = upsert(vec![version.clone()], 2_000).await;
        assert_eq!((counts.new, counts.merged), (0, 1), "[{label}]");
        // Its journal version is news for topics `with:updates` only, as a
        // new version is: sent in an earlier form, and seen again now.
        let sent = store.papers_already_sent(reader, 0).await.unwrap();
        assert!(sent.earlier.contains(&preprint_id), "[{label}] {sent:?}");
        assert_eq!(store.recent_papers(2_000).await.unwrap()[0].id, preprint_id);
        // Journal first, preprint later (Crossref's `has-preprint`): one too.
        let mut second_version = journal[1].clone();
        second_version.related = vec![preprints[1].key.clone()];
        assert_eq!(upsert(vec![second_version], 3_000).await.new, 1);
        assert_eq!(
            upsert(vec![preprints[1].clone()], 4_000).await.merged,
            1,
            "[{label}]"
        );
        // arXiv's own DOI field names the journal version.
        let mut arxiv = parse_feed(&fixture(
            "arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml",
        ))
        .unwrap()
        .papers
        .remove(0);
        let mut arxiv_version = journal[2].clone();
        arxiv.doi = arxiv_version.doi.clone();
        assert_eq!(upsert(vec![arxiv.clone()], 5_000).await.new, 1);
        arxiv_version.title = "the journal's own title".into();
        assert_eq!(
            upsert(vec![arxiv_version], 6_000).await.merged,
            1,
            "[{label}]"
        );

        assert_eq!(
            crate::helpers::sql_count(&db.url, "SELECT COUNT(*) FROM papers").await,
            3,
            "[{label}] three works, each seen twice"
        );
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let row: (String, Option<String>, Option<String>, Option<i64>) = sqlx::query_as(
            "SELECT venue, published_in, published_doi, published_in_at FROM papers WHERE paper_key = $1",
        )
        .bind(preprint.key.to_string())
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            row,
            (
                "bioRxiv".to_owned(),
                Some("PeerJ".to_owned()),
                Some(journal_doi),
                Some(2_000)
            ),
            "[{label}]"
        );
        let title: String = sqlx::query_scalar("SELECT title FROM papers WHERE paper_key = $1")
            .bind(arxiv.key.to_string())
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(
            title, arxiv.title,
            "[{label}] the first appearance keeps its text"
        );
        pool.close().await;
        store.close().await;
        db.drop_db().await;
    }
}

/// Soft bounces suppress only when `limit` different messages bounced within
/// the window; a report for a message already counted counts once; a hard
/// bounce for someone already suppressed changes nothing.
#[tokio::test]
async fn soft_bounces_count_per_message_within_the_window() {
    use academichub::domain::{BounceOutcome, ReturnIds};
    use academichub::store::{BounceApplied, BounceRecord, SoftLimit};
    for db in TestDb::all("soft_bounces_count_per_message_within_the_window").await {
        let label = db.label;
        let store = Store::open(&db.url, 4).await.unwrap();
        let reader = NewSubscriber {
            email: EmailAddress::parse("carl@example.org").unwrap(),
            locale: Locale::En,
            timezone: chrono_tz::UTC,
            send_hour: academichub::domain::SendHour::new(0).unwrap(),
        };
        let topic = Topic::new("t", ["x"], [] as [&str; 0], [] as [&str; 0]).unwrap();
        let (id, _) = store.save_subscriber(&reader, &[topic], 0).await.unwrap();
        let day = 86_400;
        let soft = |message: i64, at: i64| {
            (
                BounceRecord {
                    outcome: BounceOutcome::Soft,
                    target: Some(ReturnIds {
                        message,
                        subscriber: id,
                    }),
                    status: Some("4.2.2".into()),
                    detail: "mailbox full".into(),
                    report_id: None,
                },
                SoftLimit {
                    limit: 3,
                    days: 14,
                    since: at - 14 * day,
                },
                at,
            )
        };
        let mut outcomes = Vec::new();
        // Message 1 long ago (outside the window by the last one), then 2,
        // 2 again, 3, 4.
        for (message, at) in [
            (1, 0),
            (2, 20 * day),
            (2, 20 * day + 60),
            (3, 21 * day),
            (4, 22 * day),
        ] {
            let (record, limit, at) = soft(message, at);
            outcomes.push(store.record_bounce(&record, limit, at).await.unwrap());
        }
        let email = "carl@example.org".to_owned();
        assert_eq!(
            outcomes[..4],
            [
                BounceApplied::Counted {
                    email: email.clone(),
                    count: 1
                },
                BounceApplied::Counted {
                    email: email.clone(),
                    count: 1
                },
                BounceApplied::AlreadyRecorded,
                BounceApplied::Counted {
                    email: email.clone(),
                    count: 2
                },
            ],
            "[{label}]"
        );
        assert!(
            matches!(&outcomes[4], BounceApplied::Suppressed { reason, .. }
                if reason.starts_with("bounced: 3 soft bounces in 14 days, the last 4.2.2 mailbox full")),
            "[{label}] {:?}",
            outcomes[4]
        );
        let hard = BounceRecord {
            outcome: BounceOutcome::Hard,
            target: Some(ReturnIds {
                message: 5,
                subscriber: id,
            }),
            status: Some("5.1.1".into()),
            detail: "unknown user".into(),
            report_id: None,
        };
        let (_, limit, at) = soft(5, 23 * day);
        assert!(
            matches!(
                store.record_bounce(&hard, limit, at).await.unwrap(),
                BounceApplied::Unchanged { .. }
            ),
            "[{label}]"
        );
        let events = store.subscriber_events(id).await.unwrap();
        assert_eq!(
            events.iter().filter(|e| e.kind == "suppressed").count(),
            1,
            "[{label}] {events:?}"
        );
        store.close().await;
        db.drop_db().await;
    }
}

/// The upgrade that packs each briefing's lists into one row apiece
/// (migration 20261208000001) keeps every briefing's papers with their
/// order, topics and versions, and the papers each left out with the words
/// that matched. The database is made by the migrations before it, as an
/// older version left it, and opened by this one.
#[tokio::test]
async fn an_upgrade_packs_each_briefings_lists_and_loses_nothing() {
    const PACKED: &str = "20261208000001";
    for db in TestDb::all("an_upgrade_packs_each_briefings_lists_and_loses_nothing").await {
        let label = db.label;
        let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(label);
        let before = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(&folder).unwrap() {
            let name = entry.unwrap().file_name();
            if name.to_string_lossy().as_ref() < PACKED {
                std::fs::copy(folder.join(&name), before.path().join(&name)).unwrap();
            }
        }
        sqlx::any::install_default_drivers();
        let url = if label == "sqlite" {
            format!("{}?mode=rwc", db.url)
        } else {
            db.url.clone()
        };
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::migrate::Migrator::new(before.path())
            .await
            .unwrap()
            .run(&pool)
            .await
            .unwrap();
        let rows: &[(&str, &[&str])] = &[
            (
                "INSERT INTO subscribers (id, email, locale, timezone, send_hour, status, created_at)
                 VALUES (1, 'ada@lab.test', 'en', 'UTC', 7, 'active', 0)",
                &[],
            ),
            (
                "INSERT INTO papers (id, paper_key, version, title, abstract, url, authors, venue,
                                     first_seen_at, updated_at)
                 SELECT n, 'url:https://papers.test/' || CAST(n AS TEXT), 2, 'Paper ' || CAST(n AS TEXT),
                        '', 'https://papers.test/', '[]', '', 0, 0
                 FROM (SELECT 1 AS n UNION SELECT 2 UNION SELECT 3 UNION SELECT 4
                       UNION SELECT 5 UNION SELECT 6) AS ns",
                &[],
            ),
            (
                "INSERT INTO briefings (id, subscriber_id, edition, paper_count, created_at)
                 VALUES (1, 1, '2026-12-01', 4, 100), (2, 1, '2026-12-02', 0, 200)",
                &[],
            ),
            // Runs: vision, graphs, vision again; paper 3 was sent in v1,
            // older than the v2 stored, paper 2 in no stated version.
            (
                "INSERT INTO briefing_items (briefing_id, paper_id, topic, position, version)
                 VALUES (1, 4, 'vision', 3, 2), (1, 1, 'vision', 0, 2), (1, 2, 'vision', 1, NULL),
                        (1, 3, 'graphs', 2, 1)",
                &[],
            ),
            (
                "INSERT INTO briefing_more (briefing_id, paper_id, topic, matched, position)
                 VALUES (1, 6, $1, $2, 0), (1, 5, $3, $4, 1)",
                &["graphs", "graph\nnetwork \"GNN\"", "vision", ""],
            ),
        ];
        for (sql, values) in rows {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(*sql));
            for value in *values {
                query = query.bind(*value);
            }
            query.execute(&pool).await.unwrap();
        }
        pool.close().await;

        let store = Store::open(&db.url, 2).await.unwrap();
        let papers: Vec<(String, i64)> = store
            .briefing_papers(1, "2026-12-01")
            .await
            .unwrap()
            .into_iter()
            .map(|(topic, paper)| (topic, paper.id))
            .collect();
        let topic = |t: &str, id: i64| (t.to_owned(), id);
        assert_eq!(
            papers,
            [
                topic("vision", 1),
                topic("vision", 2),
                topic("graphs", 3),
                topic("vision", 4)
            ],
            "[{label}] the papers in order, each under its topic"
        );
        let sent = store.papers_already_sent(1, 0).await.unwrap();
        assert_eq!(
            (
                sent.current
                    .iter()
                    .copied()
                    .collect::<std::collections::BTreeSet<_>>(),
                sent.earlier
                    .iter()
                    .copied()
                    .collect::<std::collections::BTreeSet<_>>()
            ),
            ([1, 2, 4].into(), [3].into()),
            "[{label}] the versions sent"
        );
        let left_out: Vec<(String, Vec<String>, i64)> = store
            .briefing_left_out(1, "2026-12-01")
            .await
            .unwrap()
            .into_iter()
            .map(|(topic, matched, paper)| (topic, matched, paper.id))
            .collect();
        assert_eq!(
            left_out,
            [
                (
                    "graphs".into(),
                    vec!["graph".into(), "network \"GNN\"".into()],
                    6
                ),
                ("vision".into(), vec![], 5)
            ],
            "[{label}] the left-out list with the words that matched"
        );
        let titles = |n: &[i64]| {
            n.iter()
                .map(|n| (format!("url:https://papers.test/{n}"), format!("Paper {n}")))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            store.briefings_of(1).await.unwrap(),
            [
                ("2026-12-01".into(), titles(&[1, 2, 3, 4])),
                ("2026-12-02".into(), titles(&[]))
            ],
            "[{label}] the data download, the empty briefing too"
        );
        store.close().await;
        db.drop_db().await;
    }
}
