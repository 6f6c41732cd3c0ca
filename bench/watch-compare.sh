#!/usr/bin/env bash
# watch-compare.sh [COUNT] [NS]: in the loaded host's namespace (bench/loaded-host
# up first), times a refresh of `watch -l` against a full `list -l` listing
# with owners, with the Go benchmarks of inspect/watch_bench_linux_test.go,
# COUNT (3) times each, and prints the ratio of their medians; the budget is
# 0.2.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
count=${1:-3}
ns=${2:-loadhost}
test=$(mktemp -d)/inspect.test
(cd "$here/.." && go test -c -o "$test" ./inspect)
out=$(ip netns exec "$ns" "$test" -test.run '^$' -test.bench 'WatchRefresh|ListListeners' -test.benchtime 20x -test.count "$count")
echo "$out" | grep '^Benchmark'
median() { grep "^$1" <<<"$out" | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
w=$(median BenchmarkWatchRefresh) l=$(median BenchmarkListListeners)
awk -v w="$w" -v l="$l" 'BEGIN {printf "refresh %.1f ms, listing %.1f ms: %.3f (budget 0.2)\n", w/1e6, l/1e6, w/l}'
