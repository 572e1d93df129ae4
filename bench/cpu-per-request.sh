#!/bin/bash
# Proxy CPU time per request (utime+stime of the proxy process / requests served), for comparing
# two builds of tsproxy on a machine that is not quiet: req/s moves with whatever else runs on the
# load generator's core, CPU per request much less. Not a comparison with nginx (bench/run.ts and
# bench/tls.ts do that); a before/after check of the hot paths.
#
#   [MODES="h1 h2 h1status"] bench/cpu-per-request.sh [ROUNDS] CLI_A CLI_B ...   (each CLI a built dist/cli.js)
#   (h2 mode: a CLI may also be bench/procs/h2-bare.mjs:stream, :compat or :proxy, node:http2's
#   own ceiling: a bare secure server answering a fixed small response, or relaying the backend's)
#   e.g. git worktree add /tmp/before <commit> && (cd /tmp/before && ln -s $PWD/node_modules . &&
#        npx tsc -p tsconfig.build.json); bench/cpu-per-request.sh 3 /tmp/before/dist/cli.js dist/cli.js
#
# Scenarios: HTTP/1.1 keep-alive (wrk -c50, 4 s) and HTTP/2 over TLS (h2load -c10 -m5, 60,000
# requests), small responses from bench/procs/backend.mjs through an upstream keepalive pool.
# h1status (issue 16's cost): HTTP/1.1 as h1 with an active check on the upstream, while the
# status page is open (a client on its event stream) and Prometheus scrapes /status every second.
# The proxy runs on CPU 0, wrk/h2load, the backend and the status clients on CPU 1 (as bench/run.ts).
set -euo pipefail
ROUNDS=3
if [[ ${1:-} =~ ^[0-9]+$ ]]; then ROUNDS=$1; shift; fi
[ $# -ge 1 ] || { sed -n 2,14p "$0"; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$DIR"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DIR/key.pem" -out "$DIR/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null
taskset -c 1 node "$ROOT/bench/procs/backend.mjs" > "$DIR/backend.out" &
for _ in $(seq 50); do [ -s "$DIR/backend.out" ] && break; sleep 0.1; done
BACKEND=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]).http)' "$DIR/backend.out")
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

one() { # CLI MODE
  local cli=$1 mode=$2 h1 h2 pid t0 t1 reqs
  h1=$(free_port); h2=$(free_port)
  cat > "$DIR/t.conf" <<CONF
daemon off;
worker_processes 1;
events {}
http {
  access_log off; keepalive_requests 1000000;
  upstream b { server 127.0.0.1:$BACKEND; keepalive 64; $([ "$mode" = h1status ] && echo 'check interval=1000 rise=1 fall=2 type=tcp;') }
  server {
    listen 127.0.0.1:$h1;
    listen 127.0.0.1:$h2 ssl http2;
    ssl_certificate $DIR/cert.pem; ssl_certificate_key $DIR/key.pem;
    location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location = /status { check_status; }
  }
}
CONF
  local ready=$h1
  if [[ $cli == *h2-bare.mjs:* ]]; then   # the bare node:http2 ceiling (h2 mode only)
    taskset -c 0 node "${cli%:*}" "${cli##*:}" "$DIR/cert.pem" "$DIR/key.pem" "$h2" "$BACKEND" > "$DIR/proxy.log" 2>&1 &
    ready=$h2
  else
    taskset -c 0 node "$cli" -c "$DIR/t.conf" > "$DIR/proxy.log" 2>&1 &
  fi
  pid=$!
  for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$ready) 2>/dev/null && break; sleep 0.1; done
  if [ "$mode" = h2 ]; then
    taskset -c 1 h2load -t1 -c10 -m5 -n 20000 "https://127.0.0.1:$h2/small" > /dev/null 2>&1   # warm-up
    t0=$(awk '{print $14+$15}' /proc/$pid/stat)
    reqs=$(taskset -c 1 h2load -t1 -c10 -m5 -n 60000 "https://127.0.0.1:$h2/small" 2>&1 | sed -nE 's/.* ([0-9]+) succeeded.*/\1/p')
  else
    taskset -c 1 wrk -t1 -c50 -d2s "http://127.0.0.1:$h1/small" > /dev/null 2>&1   # warm-up
    local watchers=()
    if [ "$mode" = h1status ]; then
      taskset -c 1 curl -sN -m 10 -H 'Accept: text/event-stream' "http://127.0.0.1:$h1/status" > /dev/null 2>&1 & watchers+=($!)
      (for _ in 1 2 3 4 5 6 7 8; do taskset -c 1 curl -s -m 2 "http://127.0.0.1:$h1/status?format=prometheus" > /dev/null; sleep 1; done) & watchers+=($!)
    fi
    t0=$(awk '{print $14+$15}' /proc/$pid/stat)
    reqs=$(taskset -c 1 wrk -t1 -c50 -d4s "http://127.0.0.1:$h1/small" 2>&1 | awk '/requests in/ {print $1}')
    [ ${#watchers[@]} -eq 0 ] || kill "${watchers[@]}" 2>/dev/null || true
  fi
  t1=$(awk '{print $14+$15}' /proc/$pid/stat)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # clock ticks (USER_HZ) -> microseconds per request
  echo "$(( (t1 - t0) * 1000000 / $(getconf CLK_TCK) / reqs ))"
}

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-8s %-50s %-8s %s\n' scenario build median 'us CPU per request (each round)'
for mode in ${MODES:-h1 h2}; do
  declare -A results=()
  for round in $(seq "$ROUNDS"); do
    # Every other round in reverse order: the machine drifts, and whoever runs first must not
    # always be the one that drifted.
    order=("$@")
    if (( round % 2 == 0 )); then order=(); for ((k = $#; k >= 1; k--)); do order+=("${!k}"); done; fi
    for cli in "${order[@]}"; do results[$cli]+="$(one "$cli" "$mode") "; done
  done
  for cli in "$@"; do printf '%-8s %-50s %-8s %s\n' "$mode" "$cli" "$(echo "${results[$cli]}" | median)" "${results[$cli]}"; done
  unset results
done
