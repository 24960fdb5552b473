//! Integration tests: one binary, real servers on loopback.
//!
//! Feeds are real recorded feeds served by a local HTTP server; mail goes to
//! aiosmtpd, a real SMTP server we did not write (installed into `.venv` by
//! `scripts/test.sh`); storage stories run on SQLite and on PostgreSQL
//! (`TEST_POSTGRES_URL`). Without those, the tests that need them say so and
//! skip — unless `TEST_REQUIRE_SERVICES=1` (set by `scripts/test.sh`, hence
//! CI), where a missing service fails the run.

mod bad_input;
mod bounces;
mod briefing;
mod browser;
mod bulk;
mod config;
mod crash;
mod daemon;
mod db_faults;
mod delivery_faults;
mod dkim;
mod examples;
mod feedback;
mod fuzz_replay;
mod helpers;
mod llm;
mod mail_servers;
mod operations;
mod politeness;
mod privacy;
mod reader_pages;
mod readers;
mod relevance;
mod revisions;
mod round;
mod run_once;
mod schedule;
mod smtp_security;
mod sources;
mod spam_score;
mod storage;
mod strangers;
