#!/bin/bash
# Where a small proxied keep-alive response's CPU goes, in µs per request, for nginx and each given
# tsproxy build on the same config and load as bench/cpu-ab.sh (wrk -c50, backend.mjs's small
# response through an upstream keepalive pool; the proxies on CPU 0, wrk and the backend on CPU 1):
# kernel time by syscall (read, write, epoll, ...), page faults and the rest, and user time by
# place (JIT-compiled JS, the node binary, libc). `perf record -g -e cpu-clock` on the proxy during
# each wrk turn, split by bench/procs/perf-split.mjs; ROUNDS interleaved rounds, median per class;
# with the proxy's page faults (minflt) per 1000 requests over the same turns.
#
#   bench/kernel-split.sh ROUNDS CLI...      (each CLI a built dist/cli.js, or nginx; node flags may
#                                            come first: "--min-semi-space-size=16 dist/cli.js")
#   TURN_S: seconds of wrk per turn (default 3)
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,10p "$0"; exit 2; }
R=$1; shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d)
PIDS=()
trap 'kill $(jobs -p) "${PIDS[@]}" 2>/dev/null; rm -rf "$DIR"' EXIT
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
taskset -c 1 node "$ROOT/bench/procs/backend.mjs" > "$DIR/backend.out" &
for _ in $(seq 50); do [ -s "$DIR/backend.out" ] && break; sleep 0.1; done
BACKEND=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]).http)' "$DIR/backend.out")
PORTS=()
for cli in "$@"; do
  port=$(free_port); PORTS+=("$port")
  extra=''; [ "$cli" = nginx ] && extra="master_process off; pid $DIR/$port.pid; error_log $DIR/$port.err warn;"
  cat > "$DIR/$port.conf" <<CONF
daemon off; worker_processes 1; events {} $extra
http { access_log off; keepalive_requests 1000000;$([ "$cli" = nginx ] && echo " client_body_temp_path $DIR/t$port; proxy_temp_path $DIR/t$port;")
  upstream b { server 127.0.0.1:$BACKEND; keepalive 64; }
  server { listen 127.0.0.1:$port;
    location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
  if [ "$cli" = nginx ]; then
    mkdir -p "$DIR/t$port"; taskset -c 0 nginx -p "$DIR/" -c "$DIR/$port.conf" > "$DIR/$port.log" 2>&1 &
  else
    # shellcheck disable=SC2086  # a CLI may carry node flags: "--max-semi-space-size=8 dist/cli.js"
    taskset -c 0 node --perf-basic-prof-only-functions $cli -c "$DIR/$port.conf" > "$DIR/$port.log" 2>&1 &
  fi
  PIDS+=($!)
done
for p in "${PORTS[@]}"; do
  for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/"$p") 2>/dev/null && break; sleep 0.1; done
  taskset -c 1 wrk -t1 -c50 -d3s "http://127.0.0.1:$p/small" > /dev/null   # JIT warm-up
done
T=${TURN_S:-3}
for round in $(seq "$R"); do
  for i in "${!PORTS[@]}"; do
    k=$(( (i + round) % ${#PORTS[@]} ))   # rotate who goes first
    perf record -q -e cpu-clock -F 4000 -g -p "${PIDS[$k]}" -o "$DIR/p.data" -- sleep "$((T + 1))" 2> /dev/null &
    rec=$!; sleep 0.5
    f0=$(awk '{print $10}' "/proc/${PIDS[$k]}/stat")
    n=$(taskset -c 1 wrk -t1 -c50 "-d${T}s" "http://127.0.0.1:${PORTS[$k]}/small" | awk '/requests in/ {print $1}')
    f1=$(awk '{print $10}' "/proc/${PIDS[$k]}/stat")
    wait "$rec" || true
    perf script -i "$DIR/p.data" -F tid,period,ip,sym,dso 2> /dev/null |
      node "$ROOT/bench/procs/perf-split.mjs" "$n" "$((f1 - f0))" >> "$DIR/split.$k"
  done
done
for i in "${!PORTS[@]}"; do
  echo "== ${*:i+1:1}  (µs per request, median of $R turns)"
  node -e '
    const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const med = (k) => { const v = rows.map((r) => r[k] ?? 0).sort((a, b) => a - b); return v[(v.length - 1) >> 1]; };
    for (const k of keys.sort((a, b) => med(b) - med(a))) if (med(k) >= 0.05 || k.startsWith("count")) console.log(`  ${med(k).toFixed(2).padStart(6)}  ${k}`);
  ' "$DIR/split.$i"
done
