#!/usr/bin/env bash
# compare.sh: time portinspect against ss and lsof on the same busy host.
#
#   bench/compare.sh [RUNS]
#
# Builds portinspect, brings up bench/loaded-host (2,000
# processes, ~24k sockets, ~74k descriptors in their own network
# namespace) unless it is already up, runs each pair of commands side by
# side with hyperfine inside the namespace, and prints median wall times,
# the ratios the project promises, peak RSS, and the median ratio of
# paired runs of list --no-processes and ss -Htuan. Needs root; installs
# hyperfine from Debian's packages if it is missing. RUNS defaults to 20.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
loaded=${LOADED_HOST:-$here/loaded-host}
ns=loadhost
runs=${1:-20}

[[ $(id -u) == 0 ]] || { echo "compare.sh: needs root (ip netns)" >&2; exit 2; }
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
command -v lsof >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lsof >/dev/null; }
[[ -x /usr/bin/time ]] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }

bin=$(mktemp -d)/portinspect
(cd "$top" && go build -o "$bin" ./cmd/portinspect)
ip netns list | grep -qw "$ns" || "$loaded" up "$ns"
run() { ip netns exec "$ns" "$@"; }

out=$(mktemp -d)
# name|portinspect command|reference command|promised ratio
pairs=(
  "port 3372 vs ss|$bin 3372|ss -Htulnp 'sport = :3372'|0.5"
  "port 3372 vs lsof|$bin 3372|lsof -nP -i :3372|0.2"
  "list -l vs ss|$bin list -l|ss -Htulnp|0.6"
  "list vs ss|$bin list|ss -Htuanp|0.6"
  "list --no-processes vs ss|$bin list --no-processes|ss -Htuan|1.0"
)
printf '%-28s %12s %12s %8s %8s\n' "comparison" "portinspect" "reference" "ratio" "promise"
for i in "${!pairs[@]}"; do
  IFS='|' read -r name ours theirs promise <<<"${pairs[$i]}"
  run hyperfine -N -w 2 -r "$runs" --export-json "$out/$i.json" "$ours" "$theirs" >/dev/null 2>&1
  read -r a b < <(jq -r '[.results[].median] | map(. * 1000) | @tsv' "$out/$i.json")
  ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
  ok=$(awk -v r="$ratio" -v p="$promise" 'BEGIN { print (r <= p) ? "ok" : "MISSED" }')
  printf '%-28s %9.0f ms %9.0f ms %8s %5s %s\n' "$name" "$a" "$b" "$ratio" "$promise" "$ok"
done

echo
printf '%-34s %10s %8s\n' "peak RSS (median of 5)" "MB" "promise"
for spec in "$bin 3372|40" "$bin list -o json|100"; do
  IFS='|' read -r cmd promise <<<"$spec"
  kb=$(for _ in 1 2 3 4 5; do run /usr/bin/time -f %M $cmd 2>&1 >/dev/null | tail -1; done | sort -n | sed -n 3p)
  mb=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
  ok=$(awk -v m="$mb" -v p="$promise" 'BEGIN { print (m <= p) ? "ok" : "MISSED" }')
  printf '%-34s %10s %5s %s\n' "${cmd#"$bin" }" "$mb" "$promise" "$ok"
done
echo
# A cold lookup: a fresh process each run, as a user at a terminal starts it.
run hyperfine -N -w 3 -r 40 --export-json "$out/lookup.json" "$bin lookup 3372" "$bin lookup remote desktop" >/dev/null 2>&1
printf '%-34s %10s %8s\n' "lookup (median of 40 runs)" "ms" "promise"
jq -r '.results[] | [.command, (.median * 1000)] | @tsv' "$out/lookup.json" | while IFS=$'\t' read -r cmd ms; do
  ok=$(awk -v m="$ms" 'BEGIN { print (m <= 30) ? "ok" : "MISSED" }')
  printf '%-34s %10.1f %5s %s\n' "${cmd#"$bin" }" "$ms" 30 "$ok"
done

echo
# Paired runs: each run of portinspect right after one of ss, so that both
# meet the same moment of a shared machine; the ratio is the median of the
# pairs' ratios. The promise of issue 15: list --no-processes no slower
# than ss -Htuan.
paired() {
  local runs=$1 a=$2 b=$3
  for _ in 1 2; do run $a >/dev/null 2>&1; run $b >/dev/null 2>&1; done
  for ((i = 0; i < runs; i++)); do
    local s=$EPOCHREALTIME; run $a >/dev/null 2>&1
    local m=$EPOCHREALTIME; run $b >/dev/null 2>&1
    local e=$EPOCHREALTIME
    awk -v s="$s" -v m="$m" -v e="$e" 'BEGIN { printf "%.4f\n", (m - s) / (e - m) }'
  done | sort -n | awk '{ r[NR] = $1 } END { printf "%.2f %.2f %.2f\n", r[int((NR + 1) / 2)], r[1], r[NR] }'
}
printf '%-34s %8s %14s %8s\n' "paired runs ($runs pairs)" "median" "min-max" "promise"
read -r med lo hi < <(paired "$runs" "$bin list --no-processes" "ss -Htuan")
ok=$(awk -v r="$med" 'BEGIN { print (r <= 1.0) ? "ok" : "MISSED" }')
printf '%-34s %8s %14s %5s %s\n' "list --no-processes / ss -Htuan" "$med" "$lo-$hi" 1.0 "$ok"

echo
echo "host: $(nproc) CPUs, $(uname -r), $(run ss -Htan | wc -l) TCP and $(run ss -Huan | wc -l) UDP sockets in $ns"
