#!/usr/bin/env bash
# Time `tsproxy -t` and `nginx -t` on a generated config of N server blocks (default 10,000);
# prints wall time and peak memory (max RSS) for each. Run from the repo root after `npm install`.
# `npm run bench` measures the same thing interleaved with the other scenarios (column "-t 10k servers").
#   bash bench/config-test.sh [N]        (TSPROXY_CLI=path/to/cli.js to time another build)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx; }
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
cli=${TSPROXY_CLI:-dist/cli.js}
[ -f "$cli" ] || npm run build >/dev/null
dir=$(mktemp -d /tmp/tsproxy-bench-XXXX)
trap 'rm -rf "$dir"' EXIT
npx tsx bench/gen-config.ts "$dir/t.conf" "$n"
cp "$dir/t.conf" "$dir/nginx.conf"
measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$dir/time" "$@" >/dev/null 2>"$dir/err" || { echo "$label failed:"; tail -5 "$dir/err"; return; }
  read -r secs kb <"$dir/time"
  printf '%-10s %8.2f s %8.1f MB\n' "$label" "$secs" "$(echo "$kb/1024" | bc -l)"
}
echo "config test on $n server blocks ($(wc -l <"$dir/t.conf") lines)"
printf '%-10s %10s %11s\n' proxy time peak-RSS
for round in 1 2 3; do
  measure tsproxy node "$cli" -t -q -p "$dir" -c "$dir/t.conf"
  measure nginx nginx -t -q -p "$dir" -e "$dir/error.log" -c "$dir/nginx.conf" -g "pid $dir/nginx.pid; error_log $dir/error.log;"
done
