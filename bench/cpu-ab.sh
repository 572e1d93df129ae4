#!/bin/bash
# Proxy CPU time per request of two builds, both running at once and measured in turns: more
# rounds in less time than cpu-per-request.sh (no start-up per round), and both builds see the same
# moments of a machine that is not quiet. HTTP/1.1 keep-alive (wrk -c50, 2 s per turn), small
# responses from bench/procs/backend.mjs through an upstream keepalive pool; the proxies on CPU 0,
# wrk and the backend on CPU 1. Prints each turn as total/user/main-thread in 0.1 µs, then medians.
#
#   bench/cpu-ab.sh ROUNDS CLI_A CLI_B      (each CLI a built dist/cli.js)
#   FA=... FB=...: extra node flags for A or B (e.g. FB=--max-semi-space-size=32)
#   URL_PATH=64k: the 64 KiB response instead of the small one
set -euo pipefail
[ $# -eq 3 ] || { sed -n 2,9p "$0"; exit 2; }
R=$1; A=$2; B=$3
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d)
PA=''; PB=''
trap 'kill $(jobs -p) $PA $PB 2>/dev/null; rm -rf "$DIR"' EXIT
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
taskset -c 1 node "$ROOT/bench/procs/backend.mjs" > "$DIR/backend.out" &
for _ in $(seq 50); do [ -s "$DIR/backend.out" ] && break; sleep 0.1; done
BACKEND=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]).http)' "$DIR/backend.out")
start() { # CLI PORT FLAGS
  cat > "$DIR/$2.conf" <<CONF
daemon off; worker_processes 1; events {}
http { access_log off; keepalive_requests 1000000;
  upstream b { server 127.0.0.1:$BACKEND; keepalive 64; }
  server { listen 127.0.0.1:$2;
    location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
  # shellcheck disable=SC2086
  taskset -c 0 node $3 "$1" -c "$DIR/$2.conf" > /dev/null 2>&1 &
  echo $!
}
P1=$(free_port); P2=$(free_port)
PA=$(start "$A" "$P1" "${FA:-}"); PB=$(start "$B" "$P2" "${FB:-}")
for p in $P1 $P2; do for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done; done
taskset -c 1 wrk -t1 -c50 -d2s "http://127.0.0.1:$P1/${URL_PATH:-small}" > /dev/null
taskset -c 1 wrk -t1 -c50 -d2s "http://127.0.0.1:$P2/${URL_PATH:-small}" > /dev/null
ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
turn() { # PID PORT -> total/user/main-thread, 0.1 µs per request
  local u0 s0 m0 u1 s1 m1 n hz
  hz=$(getconf CLK_TCK)
  read -r u0 s0 < <(ticks "$1"); m0=$(awk '{print $14+$15}' "/proc/$1/task/$1/stat")
  n=$(taskset -c 1 wrk -t1 -c50 -d2s "http://127.0.0.1:$2/${URL_PATH:-small}" | awk '/requests in/ {print $1}')
  read -r u1 s1 < <(ticks "$1"); m1=$(awk '{print $14+$15}' "/proc/$1/task/$1/stat")
  echo "$(( (u1-u0+s1-s0) * 10000000 / hz / n ))/$(( (u1-u0) * 10000000 / hz / n ))/$(( (m1-m0) * 10000000 / hz / n ))"
}
ra=''; rb=''
for i in $(seq "$R"); do
  if (( i % 2 )); then ra+="$(turn "$PA" "$P1") "; rb+="$(turn "$PB" "$P2") "
  else rb+="$(turn "$PB" "$P2") "; ra+="$(turn "$PA" "$P1") "; fi
done
med() { tr ' ' '\n' | grep . | cut -d/ -f"$1" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/10}'; }
for x in A B; do
  if [ $x = A ]; then r=$ra; cli=$A; else r=$rb; cli=$B; fi
  echo "$x $cli"
  echo "  turns (0.1 us total/user/main): $r"
  echo "  median us CPU per request: total $(echo "$r" | med 1) user $(echo "$r" | med 2) main thread $(echo "$r" | med 3)"
done
