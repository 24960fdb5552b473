#!/usr/bin/env bash
# The daily round at scale (figures in BENCHMARKS.md): N subscribers with
# generated radars over real text, a day of 1,000 papers, one round through
# the release binary into Postfix's smtp-sink; then smtp-source sends as many
# messages of the same size into the same sink, for the sending rate.
#   scripts/bench-round.sh 100000
#   scripts/bench-round.sh 100000 --postgres postgres://postgres@127.0.0.1:5432/test --daemons 2
# Prints subscribers=N seconds=S sent=K peak_rss_mib=M, then the details.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v smtp-sink >/dev/null || ! command -v smtp-source >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
n="${1:-10000}"
shift || true
cargo bench --locked --bench round_scale -- --subscribers "$n" "$@"
