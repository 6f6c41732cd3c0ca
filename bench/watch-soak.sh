#!/usr/bin/env bash
# watch-soak.sh [SECONDS] [NS]: runs `portinspect watch -l -o json` over the
# loaded host (bench/loaded-host up first) for SECONDS (600), sampling its
# resident size every 10 s, and prints the samples and the peaks of the first
# minute and of the rest: a watch left running must hold a steady size.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-600}
ns=${2:-loadhost}
bin=$(mktemp -d)/portinspect
(cd "$here/.." && go build -o "$bin" ./cmd/portinspect)
ip netns exec "$ns" "$bin" watch -l -o json --for "${secs}s" --interval 1s >/dev/null &
pid=$!
sleep 0.5
# The watch runs as a child of ip netns exec, which execs it: same PID.
first=0 rest=0
printf 'seconds\trss_kb\n'
for ((t = 10; t <= secs; t += 10)); do
  sleep 10
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  printf '%d\t%d\n' "$t" "$rss"
  if ((t <= 60)); then ((rss > first)) && first=$rss; else ((rss > rest)) && rest=$rss; fi
done
wait "$pid" || true
echo "peak RSS: first minute ${first} kB, after it ${rest} kB"
