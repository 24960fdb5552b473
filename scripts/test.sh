#!/usr/bin/env bash
# Sets up what the tests need, then runs every check CI runs:
#   - scripts/test-deps.sh installs what is missing, and only that: Chromium and
#     ChromeDriver, SpamAssassin, Postfix (smtp-sink/smtp-source, and the
#     bounce tests' private relay), Dovecot's IMAP server, CJK fonts,
#     docker-compose (Debian packages), .venv/ with aiosmtpd, dkimpy and
#     hadolint, html-validate in scripts/html-lint/, and starts PostgreSQL on
#     127.0.0.1:5432 if it is down
#   - cargo fmt --check, cargo clippy -D warnings, cargo test (all targets, the
#     storage tests on SQLite and PostgreSQL), the benchmarks once each as
#     smoke tests. Damaged real feeds go through the feed parser as a
#     property test; coverage-guided fuzzing (cargo-fuzz, fuzz/) is a local
#     command with its figures in BENCHMARKS.md: its instrumented build took
#     8 of CI's 18 minutes
#   - scripts/check-deploy.sh: the compose file, the daemons' environment in
#     it (loaded by the binary just built), the systemd unit and the Dockerfile
# It prints the time of each phase at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/phases.sh

phase "install what the tests need"
scripts/test-deps.sh
export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
# From here on a missing SMTP server or database fails the tests instead of skipping them.
export TEST_REQUIRE_SERVICES=1

phase "cargo fmt --check"
cargo fmt --all -- --check
phase "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
phase "build the tests and benches"
cargo test --locked --no-run --lib --bins --tests --benches
# Here, not right after the install: the check loads the compose file's
# configuration with the binary the integration tests were built with.
phase "check the deployment files"
scripts/check-deploy.sh target/debug/academichub
# Benchmarks run once each as smoke tests; the test binaries' summary comes last.
phase "bench smokes"
cargo test --bench pipeline --bench readers --bench briefing --locked
# The radar at scale, small (the million-radar figure is in BENCHMARKS.md).
cargo test --bench radar_scale --locked -- --papers 1000 --radars 10000 --scan-radars 100
# The round at scale, small: 300 subscribers through the real binary into
# smtp-sink, and a second day with the clock moved on, as the storage
# figure is taken (the 100,000-subscriber and 30-day figures are in
# BENCHMARKS.md).
cargo test --bench round_scale --locked -- --subscribers 300 --papers 1000 --days 2
phase "cargo test"
cargo test --lib --bins --tests --locked
