#!/usr/bin/env bash
# Artifact throughput, run by hand (never in CI): upload and download of a large artifact
# (1 GiB payload by default) through the public HTTPS port with curl, against a plain `cp` of
# the same file on the same disk, with the server's peak memory meanwhile. The download must be
# byte-identical. Everything lives in one scratch directory (BENCH_DIR, default /tmp), removed
# at the end.
#   ./scripts/bench-artifacts.sh [PAYLOAD_MIB]     (NO_BUILD=1: use the built binary)
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-1024}
target=${CARGO_TARGET_DIR:-target}
[ -n "${NO_BUILD:-}" ] || cargo build --release -p mender-server --bin mender-server
bin=$(realpath "$target/release/mender-server")

base=${BENCH_DIR:-/tmp}
need_kib=$((mib * 1024 * 5))   # artifact, its cp, the stored blob, the download, headroom
avail_kib=$(df -Pk "$base" | awk 'NR==2 {print $4}')
echo "free space in $base: $((avail_kib / 1024)) MiB, need about $((need_kib / 1024)) MiB"
[ "$avail_kib" -gt "$need_kib" ] || { echo "not enough free disk space" >&2; exit 1; }
work=$(mktemp -d -p "$base" bench-artifacts.XXXXXX); pid=; sampler=
cleanup() {
  [ -n "$sampler" ] && kill "$sampler" 2>/dev/null || true
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ms() { echo $(( ($2 - $1) / 1000000 )); }
rate() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f MiB/s", (b / 1048576) / (t / 1000) }'; }
kib() { awk "/$1/{print \$2}" /proc/$pid/status; }
# Samples the server's RSS every 50 ms into $1 (bounded: at most 30 minutes).
sample_rss() { for _ in $(seq 1 36000); do kib VmRSS || break; sleep 0.05; done > "$1"; }
peak() { sort -n "$1" | tail -1; }

echo "load before: $(uptime)"
mkdir -p "$work/art"
t0=$(date +%s%N)
head -c "${mib}M" /dev/urandom > "$work/art/payload.bin"
echo /opt/bench > "$work/art/dest_dir"; echo payload.bin > "$work/art/filename"
t1=$(date +%s%N)
(cd "$work/art" && /usr/bin/mender-artifact write module-image -T single-file --compression none \
  -t test-device -n bench-big-1 -o "$work/big.mender" -f dest_dir -f filename -f payload.bin >/dev/null)
t2=$(date +%s%N)
rm -f "$work/art/payload.bin"
size=$(stat -c %s "$work/big.mender")
echo "artifact: $size bytes (payload ${mib} MiB random; urandom $(ms "$t0" "$t1") ms, mender-artifact --compression none $(ms "$t1" "$t2") ms)"
sync

# The baseline: cp on the same disk (the file is in the page cache, as it is for curl).
t0=$(date +%s%N); cp "$work/big.mender" "$work/copy.mender"; t1=$(date +%s%N)
sync "$work/copy.mender"; t2=$(date +%s%N)
cp_ms=$(ms "$t0" "$t1"); cpsync_ms=$(ms "$t0" "$t2")
echo "cp: $cp_ms ms ($(rate "$size" "$cp_ms")); cp + fsync: $cpsync_ms ms ($(rate "$size" "$cpsync_ms"))"
rm -f "$work/copy.mender"

port=$((20000 + RANDOM % 20000))
"$bin" user create --email bench@example.com --password bench-password-1 --data-dir "$work/data" >/dev/null
MENDER_SERVER_LOG__FORMAT=json "$bin" serve --data-dir "$work/data" --listen 127.0.0.1:$port \
  --hostname localhost >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 1200); do grep -q "Log in with" "$work/out" 2>/dev/null && break; sleep 0.1; done
grep -q "Log in with" "$work/out" || { cat "$work/err" >&2; exit 1; }
url=https://127.0.0.1:$port
token=$(curl -sk -X POST -u bench@example.com:bench-password-1 "$url/api/management/v1/useradm/auth/login")
echo "server pid $pid, idle RSS $(kib VmRSS) KiB"

sample_rss "$work/rss-up" & sampler=$!
t0=$(date +%s%N)
code=$(curl -sk --http1.1 -o "$work/up.body" -D "$work/up.headers" -w '%{http_code}' \
  -H "Authorization: Bearer $token" -F "size=$size" -F description=bench \
  -F "artifact=@$work/big.mender;type=application/octet-stream" \
  "$url/api/management/v1/deployments/artifacts")
t1=$(date +%s%N)
kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=
up_ms=$(ms "$t0" "$t1")
[ "$code" = 201 ] || { echo "upload answered $code: $(cat "$work/up.body")" >&2; exit 1; }
id=$(tr -d '\r' < "$work/up.headers" | awk -F/ 'tolower($0) ~ /^location:/ {print $NF}')
echo "upload: HTTP $code in $up_ms ms ($(rate "$size" "$up_ms"), $(awk -v a="$up_ms" -v b="$cp_ms" 'BEGIN{printf "%.1f", a/b}')x cp, $(awk -v a="$up_ms" -v b="$cpsync_ms" 'BEGIN{printf "%.1f", a/b}')x cp+fsync); server peak RSS during upload $(peak "$work/rss-up") KiB"

uri=$(curl -sk -H "Authorization: Bearer $token" "$url/api/management/v1/deployments/artifacts/$id/download" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["uri"])')
sample_rss "$work/rss-down" & sampler=$!
t0=$(date +%s%N)
code=$(curl -sk --http1.1 -o "$work/down.mender" -w '%{http_code}' "$uri")
t1=$(date +%s%N)
kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true; sampler=
down_ms=$(ms "$t0" "$t1")
[ "$code" = 200 ] || { echo "download answered $code" >&2; exit 1; }
echo "download: HTTP $code in $down_ms ms ($(rate "$size" "$down_ms"), $(awk -v a="$down_ms" -v b="$cp_ms" 'BEGIN{printf "%.1f", a/b}')x cp); server peak RSS during download $(peak "$work/rss-down") KiB"
if cmp -s "$work/big.mender" "$work/down.mender"; then echo "download is byte-identical (cmp)"; else echo "DOWNLOAD DIFFERS (cmp)"; fi
echo "server VmHWM (peak RSS since start): $(kib VmHWM) KiB; RSS now $(kib VmRSS) KiB"
echo "server log: $(grep -c '"level":"ERROR"' "$work/err" || true) ERROR lines, $(grep -c '"level":"WARN"' "$work/err" || true) WARN lines"
echo "load after: $(uptime)"
