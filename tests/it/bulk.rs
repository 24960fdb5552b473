//! `subscribers import` and `export` through the real binary: all or
//! nothing with bad lines named by number, an export that imports again the
//! same, and `--pending` mailing confirmations. On SQLite and PostgreSQL.

use crate::helpers::{Hub, TestDb, config, sql_count};

const GOOD: &str = r#"{"email": "ada@example.org", "locale": "en", "timezone": "Europe/London", "send_hour": 7, "cadence": "weekly:mon", "topics": [{"name": "Conformal", "query": "\"conformal prediction\" -medical"}]}
{"email": "li@example.cn", "locale": "zh", "timezone": "Asia/Shanghai", "topics": [{"name": "GNN", "keywords": ["graph neural network"], "categories": ["cs.LG"]}]}
"#;

#[tokio::test]
async fn an_import_is_all_or_nothing_and_an_export_imports_again_the_same() {
    const TEST: &str = "an_import_is_all_or_nothing_and_an_export_imports_again_the_same";
    for db in TestDb::all(TEST).await {
        let label = db.label;
        let hub = Hub::new(&config(&db.url, 9, &[]));
        let file = hub.dir.path().join("people.jsonl");
        std::fs::write(
            &file,
            format!(
                "{GOOD}{{\"email\": \"not an address\", \"topics\": [{{\"name\": \"x\", \"keywords\": [\"y\"]}}]}}\n\
                 {{\"email\": \"ada@example.org\", \"topics\": [{{\"name\": \"x\", \"keywords\": [\"y\"]}}]}}\n\
                 {{\"email\": \"bo@example.org\", \"topics\": [{{\"name\": \"x\", \"query\": \"\\\"never closed\"}}]}}\n\
                 this is not JSON\n"
            ),
        )
        .unwrap();
        let path = file.to_string_lossy().into_owned();
        let refused = hub.run(&["subscribers", "import", &path]).await;
        assert!(!refused.success, "[{label}] {}", refused.stdout);
        for line in [
            "line 3:",
            "line 4: ada@example.org is on line 1 too",
            "line 5:",
            "line 6:",
        ] {
            assert!(
                refused.stderr.contains(line),
                "[{label}] {line}: {}",
                refused.stderr
            );
        }
        assert!(
            refused
                .stderr
                .contains("4 bad line(s); nothing was imported"),
            "[{label}] {}",
            refused.stderr
        );
        assert_eq!(
            sql_count(&db.url, "SELECT COUNT(*) FROM subscribers").await,
            0,
            "[{label}]"
        );

        std::fs::write(&file, GOOD).unwrap();
        let out = hub.ok(&["subscribers", "import", &path]).await;
        assert!(
            out.contains("imported 2 subscriber(s) (active)"),
            "[{label}] {out}"
        );
        let again = hub.ok(&["subscribers", "import", &path]).await;
        assert!(
            again.contains("imported 0") && again.contains("2 already subscribed"),
            "[{label}] {again}"
        );

        let exported = hub.dir.path().join("export.jsonl");
        let exported_path = exported.to_string_lossy().into_owned();
        hub.ok(&["subscribers", "export", "--out", &exported_path])
            .await;
        let first = std::fs::read_to_string(&exported).unwrap();
        assert_eq!(first.lines().count(), 2, "[{label}] {first}");
        assert!(
            first.contains(r#""cadence":"weekly:mon""#),
            "[{label}] {first}"
        );

        // Into a fresh database, and out again: the same lines.
        let other = TestDb::sqlite();
        let copy = Hub::new(&config(&other.url, 9, &[]));
        copy.ok(&["subscribers", "import", &exported_path]).await;
        let second = copy.dir.path().join("export.jsonl");
        copy.ok(&["subscribers", "export", "--out", &second.to_string_lossy()])
            .await;
        assert_eq!(
            std::fs::read_to_string(&second).unwrap(),
            first,
            "[{label}]"
        );

        // --pending: they wait for their own confirmation, which is mailed.
        std::fs::write(
            &file,
            "{\"email\": \"cy@example.org\", \"topics\": [{\"name\": \"x\", \"keywords\": [\"y\"]}]}\n",
        )
        .unwrap();
        let pending = hub.ok(&["subscribers", "import", &path, "--pending"]).await;
        assert!(
            pending.contains("1 confirmation request(s) queued"),
            "[{label}] {pending}"
        );
        assert_eq!(
            sql_count(
                &db.url,
                "SELECT COUNT(*) FROM subscribers WHERE status = 'pending'"
            )
            .await,
            1,
            "[{label}]"
        );
        assert_eq!(
            sql_count(
                &db.url,
                "SELECT COUNT(*) FROM outbox WHERE kind = 'confirm'"
            )
            .await,
            1,
            "[{label}]"
        );
        db.drop_db().await;
    }
}
