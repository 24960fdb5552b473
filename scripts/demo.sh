#!/usr/bin/env bash
# The main job, offline, on the embedded defaults: SQLite, the folder mail
# transport, the recorded feeds in tests/fixtures/feeds, two demo subscribers.
# Leaves real briefings (.eml) in var/demo/mail and an HTML preview beside them.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked --quiet
# Where cargo put the binary (CARGO_TARGET_DIR may point anywhere).
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target_dir/debug/academichub"
demo=var/demo
rm -rf "$demo"
mkdir -p "$demo"
feeds="$PWD/tests/fixtures/feeds"
cat > "$demo/academichub.toml" <<TOML
# Written by scripts/demo.sh; see deploy/academichub.example.toml for every key.
[database]
url = "sqlite://$demo/academichub.db"

[delivery]
folder = "$demo/mail"

[[collect.feeds]]
url = "file://$feeds/arxiv-rss2-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24.xml"
name = "arXiv cs.LG+cs.AI+cs.CL+stat.ML (recorded 2026-09-24)"

[[collect.feeds]]
url = "file://$feeds/arxiv-atom-cs.LG-2026-09-25.xml"
name = "arXiv cs.LG Atom (recorded 2026-09-25)"

[[collect.feeds]]
url = "file://$feeds/nature-rss1-synthetic-shape.xml"
name = "Nature-shaped RSS 1.0 sample"

[[collect.feeds]]
url = "file://$feeds/biorxiv-rss1-genomics.xml"
name = "bioRxiv Genomics (recorded)"
TOML
export ACADEMICHUB_CONFIG="$demo/academichub.toml"

$bin subscribe ada@example.org \
  --topic "Anomaly detection" --keywords "anomaly detection, outlier detection" \
  --topic "Graph learning" --keywords "graph neural network, hypergraph"
$bin subscribe li@example.cn --locale zh --timezone Asia/Shanghai \
  --topic "可解释机器学习" --keywords "interpretable, explainable" --category cs.LG \
  --topic "基因组" --keywords "genome, chromosome"
$bin collect
$bin preview li@example.cn --out "$demo/preview-li.html"
$bin run-once --force

echo
echo "Briefings written to $demo/mail (open $demo/preview-li.html in a browser to see one):"
ls -1 "$demo/mail"
