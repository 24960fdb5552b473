#!/usr/bin/env bash
# Checks the files in deploy/ on a machine with no container engine and no
# systemd running, and exits non-zero naming the file and the problem:
#   - deploy/compose.yaml: Debian's docker-compose validates it against the
#     Compose schema (`config`; no daemon needed, nothing pulled); every
#     AcademicHub service must share one database and one links.secret;
#   - each AcademicHub service's environment (with the Dockerfile's ENV) is
#     loaded by the real binary as the daemon would (`academichub config
#     check`), which refuses unknown keys and bad values and needs no
#     database;
#   - deploy/academichub.service: systemd-analyze verify on a copy whose
#     ExecStart runs BINARY instead of /usr/local/bin/academichub (verify
#     wants that file to exist); any message is a failure, since
#     systemd-analyze warns of unknown keys and bad values but exits 0;
#   - deploy/Dockerfile: hadolint (from .venv; scripts/test-deps.sh installs
#     it). No image is built: these machines pull none.
# Usage: scripts/check-deploy.sh [BINARY]   (default: target/debug/academichub)
set -euo pipefail
cd "$(dirname "$0")/.."

binary=$(realpath -m "${1:-target/debug/academichub}")
problems=0
fail() {
  echo "check-deploy: $*" >&2
  problems=$((problems + 1))
}

if [ ! -x "$binary" ]; then
  echo "check-deploy: no academichub binary at $binary; build it (cargo build) or give its path" >&2
  exit 1
fi
for tool in docker-compose systemd-analyze .venv/bin/hadolint; do
  if ! command -v "$tool" >/dev/null; then
    echo "check-deploy: $tool is missing; scripts/test-deps.sh installs it" >&2
    exit 1
  fi
done

scratch=$(mktemp -d "${TMPDIR:-/tmp}/check-deploy.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# The compose file, as docker-compose reads it.
if ! docker-compose -f deploy/compose.yaml config >"$scratch/compose.yaml" 2>"$scratch/compose.err"; then
  fail "deploy/compose.yaml is not valid:"
  sed 's/^/  /' "$scratch/compose.err" >&2
else
  # One file per AcademicHub service (the ones built from deploy/Dockerfile),
  # each holding its environment as NUL-separated KEY=VALUE, the Dockerfile's
  # ENV first, as in a container.
  if ! /usr/bin/python3 - "$scratch" <<'EOF'; then
import re, sys, yaml

scratch = sys.argv[1]
services = yaml.safe_load(open(f"{scratch}/compose.yaml"))["services"]
ours = {name: s for name, s in services.items()
        if str(s.get("build", {}).get("dockerfile", "")).endswith("deploy/Dockerfile")}
if not ours:
    sys.exit("deploy/compose.yaml: no service is built from deploy/Dockerfile")

image_env = {}
for line in open("deploy/Dockerfile"):
    m = re.match(r"ENV\s+(\w+)=(\S+)\s*$", line)
    if m:
        image_env[m[1]] = m[2]

def shared(key):
    values = {name: (s.get("environment") or {}).get(key) for name, s in ours.items()}
    unset = sorted(name for name, value in values.items() if value is None)
    if unset:
        sys.exit(f"deploy/compose.yaml: {key} is not set on {', '.join(unset)}")
    if len(set(values.values())) > 1:
        # Names only: the values may be secrets.
        groups = {}
        for name, value in values.items():
            groups.setdefault(value, []).append(name)
        apart = " | ".join(", ".join(sorted(names)) for names in groups.values())
        sys.exit(f"deploy/compose.yaml: {key} differs between the AcademicHub services ({apart})")

# A link one daemon mails must verify on the others, and they split the work
# through one database.
shared("ACADEMICHUB_LINKS__SECRET")
shared("ACADEMICHUB_DATABASE__URL")

for name, service in ours.items():
    env = {**image_env, **(service.get("environment") or {})}
    with open(f"{scratch}/{name}.env", "w") as f:
        f.write("".join(f"{k}={v}\0" for k, v in env.items()))
EOF
    fail "the AcademicHub services in deploy/compose.yaml do not share their database and links (above)"
  fi
  for envfile in "$scratch"/*.env; do
    [ -e "$envfile" ] || continue
    service=$(basename "$envfile" .env)
    mapfile -d '' environment <"$envfile"
    mkdir "$scratch/$service"
    # A clean environment and an empty working directory, so that neither
    # this shell's ACADEMICHUB_* nor an ./academichub.toml joins in.
    if ! (cd "$scratch/$service" && env -i PATH="$PATH" HOME="$scratch/$service" "${environment[@]}" \
      "$binary" config check >/dev/null) 2>"$scratch/$service.out"; then
      fail "the daemon refuses the configuration of deploy/compose.yaml's $service:"
      sed 's/^/  /' "$scratch/$service.out" >&2
    fi
  done
fi

# The systemd unit, with the binary given in place of the installed one.
mkdir "$scratch/unit"
sed "s#^ExecStart=/usr/local/bin/academichub #ExecStart=$binary #" deploy/academichub.service \
  >"$scratch/unit/academichub.service"
if ! grep -q "^ExecStart=$binary " "$scratch/unit/academichub.service"; then
  fail "deploy/academichub.service: no 'ExecStart=/usr/local/bin/academichub …' line"
fi
if ! systemd-analyze verify --man=no "$scratch/unit/academichub.service" >"$scratch/unit.out" 2>&1 ||
  [ -s "$scratch/unit.out" ]; then
  fail "systemd-analyze verify finds problems in deploy/academichub.service:"
  sed "s#$scratch/unit/##; s#^#  #" "$scratch/unit.out" >&2
fi

# The Dockerfile: a lint, since no image can be built here.
if ! .venv/bin/hadolint --no-color deploy/Dockerfile >"$scratch/hadolint.out" 2>&1; then
  fail "hadolint finds problems in deploy/Dockerfile:"
  sed 's/^/  /' "$scratch/hadolint.out" >&2
fi

if [ "$problems" -gt 0 ]; then
  echo "check-deploy: $problems problem(s) in deploy/" >&2
  exit 1
fi
echo "check-deploy: deploy/compose.yaml, the daemons' environment in it, deploy/academichub.service and deploy/Dockerfile are fine" >&2
