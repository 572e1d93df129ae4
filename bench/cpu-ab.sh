#!/bin/bash
# Proxy CPU time per request of two builds, both running at once and measured in turns: more
# rounds in less time than cpu-per-request.sh (no start-up per round), and both builds see the same
# moments of a machine that is not quiet. HTTP/1.1 keep-alive (wrk -c50, 2 s per turn), small
# responses from bench/procs/backend.mjs through an upstream keepalive pool; the proxies on CPU 0,
# wrk and the backend on CPU 1. Prints each turn as total/user/main-thread in 0.1 µs and the page faults
# (minflt) and context switches (voluntary + not, all threads) per 1000 requests, then medians.
#
#   bench/cpu-ab.sh ROUNDS CLI_A CLI_B      (each CLI a built dist/cli.js)
#   FA=... FB=...: extra node flags for A or B (e.g. FB=--max-semi-space-size=32)
#   SA=... SB=...: extra directives in A's or B's server block (e.g. SB='ssl_session_cache off;';
#                  one that names ssl_session_* replaces the mode's session directives)
#   URL_PATH=64k: the 64 KiB response instead of the small one
#   POST_BYTES=N: each request a POST with an N-byte body (bench/procs/post.lua); with
#                 SA=SB='proxy_request_buffering off;' every read after the head is a body read
#   WARM_S: seconds of wrk warm-up per proxy (default 2; 12 for the new-connection modes)
#   MODE (issue 18, TLS to clients; the listen is bench/tls.ts's `ssl http2`, ECDSA P-256, TLS 1.2-1.3):
#     h1 (default)  plain HTTP/1.1 as above
#     https         HTTPS keep-alive (wrk -c50 https://)
#     tlsnew        a new TLS connection per request (wrk -c50 -H 'Connection: close'), resumption
#                   on: ssl_session_cache shared:SSL:10m, tickets on (wrk offers the session of its
#                   previous connection; see HACKING "HTTPS CPU per request")
#     tlsnew-full   the same with resumption off (ssl_session_cache off; ssl_session_tickets off):
#                   every connection a full handshake
#   A CLI named ceiling:https, ceiling:tls (ceiling:tcp with MODE=h1) runs bench/procs/tls-ceiling.mjs
#   instead of a proxy: node:https (or a bare tls.Server, or net.Server) answering a fixed response,
#   what Node's TLS costs by itself. A CLI named nginx runs nginx on the same config (one process,
#   master_process off): nginx's CPU per request, measured the same way.
set -euo pipefail
[ $# -eq 3 ] || { sed -n 2,20p "$0"; exit 2; }
R=$1; A=$2; B=$3
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d)
PA=''; PB=''
trap 'kill $(jobs -p) $PA $PB 2>/dev/null; [ -z "${KEEP_DIR:-}" ] && rm -rf "$DIR"' EXIT
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
taskset -c 1 node "$ROOT/bench/procs/backend.mjs" > "$DIR/backend.out" &
for _ in $(seq 50); do [ -s "$DIR/backend.out" ] && break; sleep 0.1; done
BACKEND=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8").split("\n")[0]).http)' "$DIR/backend.out")
MODE=${MODE:-h1}
SCHEME=http; LISTEN_OPTS=''; SERVER_TLS=''; TLS_BASE=''; WRK_HEADER=()
[ -n "${POST_BYTES:-}" ] && WRK_HEADER=(-s "$ROOT/bench/procs/post.lua") && export POST_BYTES
case $MODE in
  h1) ;;
  https|tlsnew|tlsnew-full)
    SCHEME=https
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$DIR/key.pem" -out "$DIR/cert.pem" \
      -days 2 -subj /CN=bench.test 2>/dev/null
    LISTEN_OPTS=' ssl http2'
    SERVER_TLS="ssl_certificate $DIR/cert.pem; ssl_certificate_key $DIR/key.pem; ssl_protocols TLSv1.2 TLSv1.3;"
    TLS_BASE=$SERVER_TLS
    case $MODE in
      tlsnew) SERVER_TLS+=' ssl_session_cache shared:SSL:10m;'; WRK_HEADER=(-H 'Connection: close') ;;
      tlsnew-full) SERVER_TLS+=' ssl_session_cache off; ssl_session_tickets off;'; WRK_HEADER=(-H 'Connection: close') ;;
    esac ;;
  *) echo "unknown MODE $MODE" >&2; exit 2 ;;
esac
start() { # CLI PORT FLAGS SERVER_DIRECTIVES
  if [[ $1 == ceiling:* ]]; then
    # shellcheck disable=SC2086
    MODE=$MODE taskset -c 0 node $3 "$ROOT/bench/procs/tls-ceiling.mjs" "${1#ceiling:}" "$2" "$DIR/cert.pem" "$DIR/key.pem" > /dev/null 2>&1 &
    echo $!
    return
  fi
  local tls=$SERVER_TLS
  [[ $4 == *ssl_session* ]] && tls=$TLS_BASE   # SA/SB set the session directives themselves
  local nginx_lines=''
  [ "$1" = nginx ] && nginx_lines="master_process off; pid $DIR/$2.pid; error_log $DIR/$2.err warn;"
  cat > "$DIR/$2.conf" <<CONF
daemon off; worker_processes 1; events {} $nginx_lines
http { access_log off; keepalive_requests 1000000;$([ "$1" = nginx ] && echo " client_body_temp_path $DIR/t$2; proxy_temp_path $DIR/t$2;")
  upstream b { server 127.0.0.1:$BACKEND; keepalive 64; }
  server { listen 127.0.0.1:$2$LISTEN_OPTS; $tls $4
    location / { proxy_pass http://b; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
CONF
  if [ "$1" = nginx ]; then
    mkdir -p "$DIR/t$2"
    taskset -c 0 nginx -p "$DIR/" -c "$DIR/$2.conf" > "$DIR/$2.log" 2>&1 &
  else
    # shellcheck disable=SC2086
    taskset -c 0 node $3 "$1" -c "$DIR/$2.conf" > "$DIR/$2.log" 2>&1 &
  fi
  echo $!
}
P1=$(free_port); P2=$(free_port)
PA=$(start "$A" "$P1" "${FA:-}" "${SA:-}"); PB=$(start "$B" "$P2" "${FB:-}" "${SB:-}")
for p in $P1 $P2; do for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done; done
URL() { echo "$SCHEME://127.0.0.1:$1/${URL_PATH:-small}"; }
# Warm-up: a handshake path is run once per connection, a few hundred times a second, and Node's
# JIT takes thousands of connections to optimise it (CPU per handshake fell by a third over the
# first 10-20 s): new-connection modes warm each proxy 12 s unless WARM_S says otherwise.
case $MODE in tlsnew*) WARM=${WARM_S:-12} ;; *) WARM=${WARM_S:-2} ;; esac
taskset -c 1 wrk -t1 -c50 "-d${WARM}s" "${WRK_HEADER[@]}" "$(URL "$P1")" > /dev/null
taskset -c 1 wrk -t1 -c50 "-d${WARM}s" "${WRK_HEADER[@]}" "$(URL "$P2")" > /dev/null
ticks() { awk '{print $14, $15, $10}' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/ {n += $2} END {print n}'; }
turn() { # PID PORT -> total/user/main-thread in 0.1 µs, page faults/switches per 1000 requests
  local u0 s0 f0 m0 c0 u1 s1 f1 m1 c1 n hz
  hz=$(getconf CLK_TCK)
  read -r u0 s0 f0 < <(ticks "$1"); m0=$(awk '{print $14+$15}' "/proc/$1/task/$1/stat"); c0=$(switches "$1")
  n=$(taskset -c 1 wrk -t1 -c50 -d2s "${WRK_HEADER[@]}" "$(URL "$2")" | awk '/requests in/ {print $1}')
  read -r u1 s1 f1 < <(ticks "$1"); m1=$(awk '{print $14+$15}' "/proc/$1/task/$1/stat"); c1=$(switches "$1")
  echo "$(( (u1-u0+s1-s0) * 10000000 / hz / n ))/$(( (u1-u0) * 10000000 / hz / n ))/$(( (m1-m0) * 10000000 / hz / n ))/$(( (f1-f0) * 1000 / n ))/$(( (c1-c0) * 1000 / n ))"
}
ra=''; rb=''
for i in $(seq "$R"); do
  if (( i % 2 )); then ra+="$(turn "$PA" "$P1") "; rb+="$(turn "$PB" "$P2") "
  else rb+="$(turn "$PB" "$P2") "; ra+="$(turn "$PA" "$P1") "; fi
done
med() { tr ' ' '\n' | grep . | cut -d/ -f"$1" | sort -n | awk -v d="${2:-10}" '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/d}'; }
for x in A B; do
  if [ $x = A ]; then r=$ra; cli=$A; else r=$rb; cli=$B; fi
  echo "$x $cli"
  echo "  turns (0.1 us total/user/main, page faults/context switches per 1000 requests): $r"
  echo "  median us CPU per request: total $(echo "$r" | med 1) user $(echo "$r" | med 2) main thread $(echo "$r" | med 3)"
  echo "  median per 1000 requests: page faults $(echo "$r" | med 4 1) context switches (all threads) $(echo "$r" | med 5 1)"
done
