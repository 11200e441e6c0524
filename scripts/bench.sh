#!/usr/bin/env bash
# Benchmarks of the foundation, run by hand (never in CI): start-up time, idle memory,
# login and token-verification throughput. Prints the numbers quoted in issue notes.
#   ./scripts/bench.sh [SECONDS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; conc=${2:-16}
cargo build --release -p mender-server --bin mender-server --example loadgen
tdir=${CARGO_TARGET_DIR:-target}
bin=$tdir/release/mender-server; load=$tdir/release/examples/loadgen
tmp=$(mktemp -d); trap 'kill $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$((20000 + RANDOM % 20000)); iport=$((port + 1))

# Starts the server in the background (pid in $pid) and prints how long it took to serve,
# labelled "$1".
start_server() {
  local start ready
  start=$(date +%s%N)
  $bin serve --data-dir "$tmp/data" --listen 127.0.0.1:$port --internal-listen 127.0.0.1:$iport > "$tmp/out" 2>"$tmp/err" &
  pid=$!
  until grep -q "Log in with" "$tmp/out" 2>/dev/null; do sleep 0.01; done
  ready=$(date +%s%N)
  echo "$1: $(( (ready - start) / 1000000 )) ms"
}

start_server "first start (creates databases, keys, certificate)"
kill $pid; wait $pid || true
start_server "start to serving (existing data dir)"
sleep 3
echo "idle RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2}') KiB"

$bin user create --email bench@example.com --password bench-password-1 --data-dir "$tmp/data" >/dev/null
basic="Authorization: Basic $(printf 'bench@example.com:bench-password-1' | base64)"
echo "login (bcrypt cost 10):"
$load https://127.0.0.1:$port/api/management/v1/useradm/auth/login POST "$secs" "$conc" "$basic"
# Taken after the login load: only the newest login tokens per user stay valid.
token=$(curl -sk -X POST -H "$basic" https://127.0.0.1:$port/api/management/v1/useradm/auth/login)
echo "token verification (internal verify endpoint, as the gateway's forward-auth does):"
$load http://127.0.0.1:$iport/api/internal/v1/useradm/auth/verify POST "$secs" "$conc" \
  "Authorization: Bearer $token" "X-Forwarded-Uri: /api/management/v1/useradm/users" "X-Forwarded-Method: GET"
echo "authenticated management request through the gateway (GET /users/me):"
$load https://127.0.0.1:$port/api/management/v1/useradm/users/me GET "$secs" "$conc" "Authorization: Bearer $token"
echo "RSS after load: $(grep VmRSS /proc/$pid/status | awk '{print $2}') KiB"
