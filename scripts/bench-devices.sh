#!/usr/bin/env bash
# Device benchmarks, run by hand (never in CI): signed auth requests per second per device key
# type, and `next` requests per second with a 100,000-device fleet and one deployment to all of
# them. Each part gets a fresh server (fresh data dir, or a fresh PostgreSQL database that is
# dropped afterwards). Prints the numbers, the machine load and the server's memory.
# `hostile` measures `next` for 500 polling devices alone and then again while 1,000 slow TLS
# connections trickle header lines and 8 workers flood the login with wrong passwords.
#   ./scripts/bench-devices.sh [auth|next|hostile|all] [sqlite|pg]
# Knobs (environment): SECS=10 CONC=16 DEVICES=50 TYPES=rsa2048,rsa3072,p256,p384,p521,ed25519
#   REAL=2000 TOTAL=100000 HOSTILE=1000 FLOOD=8 PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/test
#   KEEP_LOGS=DIR (keep the server logs) NO_BUILD=1 (use the binaries already built)
# MENDER_SERVER_* variables reach the server, e.g. MENDER_SERVER_DEVICEAUTH__PRIVATE_KEY=ed25519.pem.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}; backend=${2:-sqlite}
secs=${SECS:-10}; conc=${CONC:-16}; devices=${DEVICES:-50}
types=${TYPES:-rsa2048,rsa3072,p256,p384,p521,ed25519}
real=${REAL:-2000}; total=${TOTAL:-100000}
pg_admin=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}
case "$what" in auth|next|hostile|all) ;; *) echo "usage: $0 [auth|next|hostile|all] [sqlite|pg]" >&2; exit 2 ;; esac
case "$backend" in sqlite|pg) ;; *) echo "backend must be sqlite or pg" >&2; exit 2 ;; esac

target=${CARGO_TARGET_DIR:-target}
[ -n "${NO_BUILD:-}" ] || cargo build --release -p mender-server --bin mender-server --example fleetbench
bin=$target/release/mender-server; fleet=$target/release/examples/fleetbench
tmp=$(mktemp -d); pid=; db=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "$db" ] && psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
password=bench-password-1

# Starts a fresh server; sets pid, url, iurl (and db for PostgreSQL).
start_server() {
  local name=$1 data=$tmp/$1 args=() port iport
  port=$((20000 + RANDOM % 20000)); iport=$((port + 1))
  if [ "$backend" = pg ]; then
    db=bench_$(date +%s)_$RANDOM
    psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
    args=(--database-url "postgres://postgres@127.0.0.1:5432/$db")
  fi
  "$bin" user create --email bench@example.com --password "$password" --data-dir "$data" "${args[@]}" >/dev/null
  # Every simulated device comes from loopback: the per-address auth request limit would
  # measure 429s, so it is off unless the caller sets it.
  MENDER_SERVER_DEVICEAUTH__AUTH_REQUESTS_PER_MINUTE=${MENDER_SERVER_DEVICEAUTH__AUTH_REQUESTS_PER_MINUTE:-0} \
  MENDER_SERVER_LOG__FORMAT=json "$bin" serve --data-dir "$data" --listen 127.0.0.1:$port --internal-listen 127.0.0.1:$iport \
    --hostname localhost "${args[@]}" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  pid=$!
  for _ in $(seq 1 1200); do
    grep -q "Log in with" "$tmp/$name.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$tmp/$name.err" >&2; exit 1; }
    sleep 0.1
  done
  grep -q "Log in with" "$tmp/$name.out" || { echo "server did not start" >&2; exit 1; }
  url=https://127.0.0.1:$port; iurl=http://127.0.0.1:$iport
  echo "== $name on $backend (server pid $pid) =="
  echo "idle RSS: $(awk '/VmRSS/{print $2}' /proc/$pid/status) KiB"
}

# Prints the server's memory and log health, stops it, drops its database.
stop_server() {
  local name=$1
  echo "server RSS now: $(awk '/VmRSS/{print $2}' /proc/$pid/status) KiB, peak (VmHWM): $(awk '/VmHWM/{print $2}' /proc/$pid/status) KiB"
  echo "server log: $(grep -c '"level":"ERROR"' "$tmp/$name.err" || true) ERROR lines, $(grep -c '"level":"WARN"' "$tmp/$name.err" || true) WARN lines"
  grep -m3 -e '"level":"ERROR"' -e '"level":"WARN"' "$tmp/$name.err" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS"; cp "$tmp/$name.err" "$KEEP_LOGS/$name-$backend.log"; fi
  if [ -n "$db" ]; then psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db" >/dev/null; db=; fi
}

echo "load before: $(uptime)"
if [ "$what" = auth ] || [ "$what" = all ]; then
  start_server auth
  "$fleet" auth --url "$url" --user bench@example.com --password "$password" \
    --secs "$secs" --concurrency "$conc" --server-pid "$pid" --devices "$devices" --types "$types"
  stop_server auth
fi
# A small single-file artifact for test-device, named unlike what the devices report.
make_artifact() {
  mkdir -p "$tmp/art"
  head -c 8192 /dev/urandom > "$tmp/art/app.bin"
  echo /opt/app > "$tmp/art/dest_dir"; echo app.bin > "$tmp/art/filename"
  (cd "$tmp/art" && /usr/bin/mender-artifact write module-image -T single-file -t test-device \
    -n bench-release-2 -o "$tmp/bench.mender" -f dest_dir -f filename -f app.bin >/dev/null)
}
# `next` load on a fresh server named $1 with $2 real devices of $3; extra fleetbench args follow.
next_load() {
  local name=$1 nreal=$2 ntotal=$3; shift 3
  [ -f "$tmp/bench.mender" ] || make_artifact
  start_server "$name"
  "$fleet" next --url "$url" --internal-url "$iurl" --user bench@example.com --password "$password" \
    --secs "$secs" --concurrency "$conc" --server-pid "$pid" --real "$nreal" --total "$ntotal" \
    --artifact "$tmp/bench.mender" --artifact-name bench-release-2 \
    --installed release-1 --device-type test-device "$@"
  echo "data dir size: $(du -sh "$tmp/$name" | cut -f1)"
  stop_server "$name"
}
if [ "$what" = next ] || [ "$what" = all ]; then
  next_load next "$real" "$total"
fi
if [ "$what" = hostile ] || [ "$what" = all ]; then
  # The slow connections need file descriptors in this process too.
  ulimit -n "$(ulimit -Hn)"
  next_load hostile 500 500 --hostile-conns "${HOSTILE:-1000}" --login-flood "${FLOOD:-8}" \
    --ca "$tmp/hostile/tls/server.crt"
fi
echo "load after: $(uptime)"
