#!/usr/bin/env bash
# Time `tsproxy -t` and `nginx -t` on a generated config of N server blocks (default 10,000);
# prints wall time, CPU time (user+sys of the process: what a loaded machine does not distort
# much) and peak memory (max RSS) for each. Run from the repo root after `npm install`.
# `npm run bench` measures the same thing interleaved with the other scenarios (column "-t 10k servers").
#   bash bench/config-test.sh [N]        (TSPROXY_CLI=path/to/cli.js to time another build)
#   ROUNDS=10 TSPROXY_CLI_B=/other/dist/cli.js NGINX=0 bash bench/config-test.sh
#       A/B: both builds in turns (interleaved, same file, same run), then the median CPU of each;
#       NGINX=0 leaves nginx out. ONE=1 adds a one-server config (the fixed cost: start + imports).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
rounds=${ROUNDS:-3}
with_nginx=${NGINX:-1}
[ "$with_nginx" = 0 ] || command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
cli=${TSPROXY_CLI:-dist/cli.js}
cli_b=${TSPROXY_CLI_B:-}
[ -f "$cli" ] || npm run build >/dev/null
dir=$(mktemp -d /tmp/tsproxy-bench-XXXX)
trap 'rm -rf "$dir"' EXIT
npx tsx bench/gen-config.ts "$dir/t.conf" "$n"
cp "$dir/t.conf" "$dir/nginx.conf"
printf 'events {}\nhttp { server { listen 127.0.0.1:8080; } }\n' >"$dir/one.conf"
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$dir/time" "$@" >/dev/null 2>"$dir/err" || { echo "$label failed:"; tail -5 "$dir/err"; return; }
  read -r secs user sys kb <"$dir/time"
  local cpu; cpu=$(echo "$user + $sys" | bc -l)
  printf '%-12s %8.2f s %8.2f s %8.1f MB\n' "$label" "$secs" "$cpu" "$(echo "$kb/1024" | bc -l)"
  echo "$label $cpu $secs" >>"$dir/cpu"
}
echo "config test on $n server blocks ($(wc -l <"$dir/t.conf") lines)"
printf '%-12s %10s %10s %11s\n' proxy wall cpu peak-RSS
for round in $(seq "$rounds"); do
  measure tsproxy node "$cli" -t -q -p "$dir" -c "$dir/t.conf"
  [ -z "$cli_b" ] || measure tsproxy-B node "$cli_b" -t -q -p "$dir" -c "$dir/t.conf"
  if [ -n "${ONE:-}" ]; then
    measure one node "$cli" -t -q -p "$dir" -c "$dir/one.conf"
    [ -z "$cli_b" ] || measure one-B node "$cli_b" -t -q -p "$dir" -c "$dir/one.conf"
  fi
  [ "$with_nginx" = 0 ] || measure nginx nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -g "pid $dir/nginx.pid; error_log $dir/error.log;"
done
median() { sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.3f (min %.3f, max %.3f)", m, a[1], a[NR]}'; }
echo "medians over $rounds rounds (s):"
for label in $(awk '{print $1}' "$dir/cpu" | sort -u); do
  printf '  %-12s cpu %s   wall %s\n' "$label" "$(awk -v l="$label" '$1 == l {print $2}' "$dir/cpu" | median)" "$(awk -v l="$label" '$1 == l {print $3}' "$dir/cpu" | median)"
done
