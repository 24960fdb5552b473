//! Who is due a briefing: each subscriber's own local hour and date.

use academichub::app::Application;
use academichub::domain::{EmailAddress, SubscriberInput, TopicInput};
use academichub::store::Store;
use chrono::{DateTime, Utc};

use crate::helpers::{TestDb, app_on};

async fn subscribe(app: &Application, email: &str, timezone: chrono_tz::Tz, send_hour: u32) {
    let input = SubscriberInput {
        email: email.into(),
        timezone: Some(timezone.name().into()),
        send_hour: Some(send_hour),
        topics: vec![TopicInput {
            name: "Outliers".into(),
            keywords: vec!["outlier detection".into()],
            ..TopicInput::default()
        }],
        ..SubscriberInput::default()
    };
    app.subscribe_by_operator(input, DateTime::UNIX_EPOCH)
        .await
        .unwrap();
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn briefings_are_due_from_each_subscribers_local_send_hour_once_per_local_date() {
    for db in
        TestDb::all("briefings_are_due_from_each_subscribers_local_send_hour_once_per_local_date")
            .await
    {
        let mail = tempfile::tempdir().unwrap();
        let app = app_on(&db, mail.path()).await;
        let store = Store::open(&db.url, 2).await.unwrap();
        app.collect(Utc::now()).await.unwrap();
        // 05:30 UTC is 05:30 in London, 13:30 in Shanghai, 21:30 the day before in Los Angeles.
        subscribe(&app, "london@example.org", chrono_tz::Europe::London, 7).await;
        subscribe(&app, "shanghai@example.org", chrono_tz::Asia::Shanghai, 7).await;
        subscribe(&app, "la@example.org", chrono_tz::America::Los_Angeles, 21).await;

        let early = app
            .prepare_briefings(at("2026-11-23T05:30:00Z"), false)
            .await
            .unwrap();
        assert_eq!(
            (early.queued, early.not_due),
            (2, 1),
            "[{}] {early:?}",
            db.label
        );
        assert!(
            store
                .has_briefing(
                    subscriber_id(&store, "shanghai@example.org").await,
                    "2026-11-23"
                )
                .await
                .unwrap()
        );
        assert!(
            store
                .has_briefing(subscriber_id(&store, "la@example.org").await, "2026-11-22")
                .await
                .unwrap()
        );

        let same_day = app
            .prepare_briefings(at("2026-11-23T06:59:00Z"), false)
            .await
            .unwrap();
        // Nobody's slot has come since: the tick reads no subscriber at all.
        assert_eq!(
            same_day,
            academichub::round::PrepareReport::default(),
            "[{}]",
            db.label
        );

        // London's hour comes: the same paper is news to London too.
        let london = app
            .prepare_briefings(at("2026-11-23T07:00:00Z"), false)
            .await
            .unwrap();
        assert_eq!(
            (london.queued, london.examined),
            (1, 1),
            "[{}] {london:?}",
            db.label
        );

        // The next local day in Shanghai and Los Angeles (London still
        // asleep, and not looked at): nothing new on their radar, so no email.
        let next = app
            .prepare_briefings(at("2026-11-24T05:30:00Z"), false)
            .await
            .unwrap();
        assert_eq!(
            (next.queued, next.nothing_new, next.examined),
            (0, 2, 2),
            "[{}] {next:?}",
            db.label
        );

        app.close().await;
        store.close().await;
        db.drop_db().await;
    }
}

async fn subscriber_id(store: &Store, email: &str) -> i64 {
    store
        .find_subscriber(&EmailAddress::parse(email).unwrap())
        .await
        .unwrap()
        .unwrap()
        .id
}
