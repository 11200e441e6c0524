#!/usr/bin/env bash
# The one command that runs every test: installs what the tests need, starts what is not
# running, then checks formatting, lints, the crypto-provider rule and runs the whole test
# suite on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n==> %s\n' "$*"; }

# --- what the tests need -----------------------------------------------------------------
need_pkgs=()
for tool in mender-cli:mender-cli mender:mender-client mender-artifact:mender-artifact mender-connect:mender-connect dbus-daemon:dbus \
            pg_isready:postgresql-client; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need_pkgs+=("${tool##*:}")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
# Dependency hygiene tools (built from crates.io once; later runs find them installed).
command -v cargo-machete >/dev/null 2>&1 || { say "installing cargo-machete"; cargo install --locked cargo-machete; }
command -v cargo-deny >/dev/null 2>&1 || { say "installing cargo-deny"; cargo install --locked cargo-deny; }

# --- services ----------------------------------------------------------------------------
export MENDER_TEST_PG_URL="${MENDER_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  say "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable at 127.0.0.1:5432" >&2; exit 1; }
# Test schemas from earlier runs are dropped so the database does not grow without bound.
psql -h 127.0.0.1 -U postgres -d test -qAt -c \
  "select 'drop schema if exists \"' || nspname || '\" cascade;' from pg_namespace where nspname like 'test\_%'" \
  | psql -h 127.0.0.1 -U postgres -d test -q >/dev/null 2>&1 || true

# --- checks --------------------------------------------------------------------------------
say "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
say "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
say "dependencies: licenses, bans (one crypto provider: no ring), duplicates, sources"
# cargo-deny reads every crate of the lock file, so fetch them first; the check itself runs
# offline (advisories need the RustSec database from the network and are checked by hand).
cargo fetch --locked >/dev/null
cargo deny --offline check licenses bans sources
say "no unused dependencies"
cargo machete

# --- fuzzing: a brief run of every fuzz target (fuzz/, its own workspace) ------------------
# Long runs are done by hand (`scripts/fuzz.sh --runs 10000000`); this catches regressions
# against the seed corpus and what a short run finds. FUZZ_SECONDS=0 skips it. Before the
# test suite, so that the test runner's summary stays the last thing printed.
if [ "${FUZZ_SECONDS:-15}" != 0 ]; then
  say "fuzz targets (${FUZZ_SECONDS:-15} s each)"
  scripts/fuzz.sh "${FUZZ_SECONDS:-15}"
fi

# --- tests (SQLite and PostgreSQL) ---------------------------------------------------------
say "cargo test (SQLite and PostgreSQL at $MENDER_TEST_PG_URL)"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

