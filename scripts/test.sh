#!/usr/bin/env bash
# Sets up what the tests need, then runs every check CI runs:
#   - a local venv (.venv) with aiosmtpd, the real SMTP server the tests talk to,
#     and dkimpy, which verifies our DKIM signatures offline
#   - headless Chromium and ChromeDriver (Debian packages), for the tests that
#     render a briefing and drive the reader's pages; SpamAssassin, which scores one;
#     Postfix's smtp-sink and smtp-source, for the round's scale benchmark
#   - html-validate (npm from Debian, then npm ci into scripts/html-lint/), the
#     email-aware HTML lint of the rendered briefings
#   - PostgreSQL on 127.0.0.1:5432 (started if it is down), for the tests that
#     run every storage story on PostgreSQL as well as SQLite
#   - cargo fmt --check, cargo clippy -D warnings, cargo test (all targets),
#     and a short fuzz of the feed parser (cargo-fuzz, installed into .tools/)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -c 'import aiosmtpd, dkim' 2>/dev/null ||
  .venv/bin/pip install --quiet --disable-pip-version-check 'aiosmtpd>=1.4,<2' 'dkimpy>=1.1,<2'

# Headless Chromium checks the briefing and the reader's pages as a browser
# renders them; ChromeDriver lets the tests fill in forms and click.
# SpamAssassin scores a realistic briefing (local tests only, no network).
# Postfix's smtp-sink and smtp-source are the load tools of the round's scale
# benchmark (its daemon need not run).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null ||
  ! command -v spamassassin >/dev/null || ! command -v smtp-sink >/dev/null ||
  ! command -v npm >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    chromium chromium-driver fonts-noto-cjk spamassassin postfix npm >/dev/null
fi

# The email-aware HTML lint of the rendered briefings, pinned by its lock file.
if [ ! -x scripts/html-lint/node_modules/.bin/html-validate ]; then
  npm ci --prefix scripts/html-lint --no-audit --no-fund --silent
fi

export TEST_POSTGRES_URL="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  fi
fi
# From here on a missing SMTP server or database fails the tests instead of skipping them.
export TEST_REQUIRE_SERVICES=1

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# Benchmarks run once each as smoke tests; the test binaries' summary comes last.
cargo test --bench pipeline --bench readers --bench briefing --locked
# The radar at scale, small (the million-radar figure is in BENCHMARKS.md).
cargo test --bench radar_scale --locked -- --papers 1000 --radars 10000 --scan-radars 100
# The round at scale, small: 300 subscribers through the real binary into
# smtp-sink (the 100,000-subscriber figures are in BENCHMARKS.md).
cargo test --bench round_scale --locked -- --subscribers 300 --papers 1000
# A short fuzz of the feed parser (the 15-minute run is in BENCHMARKS.md).
# cargo-fuzz is kept in .tools/, inside the checkout; RUSTC_BOOTSTRAP lets the
# stable toolchain take libFuzzer's flags. The parser is safe Rust: the fuzzer
# looks for panics, overflows and hangs, which need no AddressSanitizer
# (`--sanitizer none` builds in a fraction of the time).
if [ ! -x .tools/bin/cargo-fuzz ]; then
  cargo install --quiet --locked --root .tools cargo-fuzz
fi
mkdir -p target/fuzz-smoke-corpus
if ! (cd fuzz && RUSTC_BOOTSTRAP=1 ../.tools/bin/cargo-fuzz run --sanitizer none parse_feed \
  ../target/fuzz-smoke-corpus ../tests/fixtures/feeds -- \
  -runs=20000 -max_len=65536 -timeout=10) > target/fuzz-smoke.log 2>&1; then
  cat target/fuzz-smoke.log
  echo "the feed parser fuzz smoke failed (input saved under fuzz/artifacts/)" >&2
  exit 1
fi
grep -E '^Done [0-9]+ runs' target/fuzz-smoke.log
cargo test --lib --bins --tests --locked
