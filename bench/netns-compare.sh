#!/usr/bin/env bash
# netns-compare.sh: time `portinspect list -A` against ss run in every
# network namespace, on the loaded host plus N small namespaces.
#
#   bench/netns-compare.sh [RUNS] [N]
#
# Brings up bench/loaded-host (its namespace "loadhost") unless it is up,
# makes N more namespaces (default 20), each with a process holding three
# listeners, and compares with hyperfine:
#   portinspect list -A                      (every namespace, owners named)
#   ss -Htuanp in this namespace, then in each named one (ip -all netns exec)
# The promise (issue 12) is a ratio of at most 0.6. The N namespaces are
# removed at the end; the loaded host is left up. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
runs=${1:-10}
n=${2:-20}

[[ $(id -u) == 0 ]] || { echo "netns-compare.sh: needs root (ip netns)" >&2; exit 2; }
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }

bin=$(mktemp -d)/portinspect
(cd "$top" && go build -o "$bin" ./cmd/portinspect)
ip netns list | grep -qw loadhost || "$here/loaded-host" up loadhost

pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  for i in $(seq "$n"); do ip netns del "pibench$i" 2>/dev/null || true; done
}
trap cleanup EXIT
for i in $(seq "$n"); do
  ip netns add "pibench$i"
  ip -n "pibench$i" link set lo up
  ip netns exec "pibench$i" python3 -c '
import socket, time
held = []
for port in (80, 6379, 8080):
    s = socket.socket(); s.bind(("0.0.0.0", port)); s.listen(); held.append(s)
time.sleep(3600)' &
  pids+=($!)
done
sleep 1

out=$(mktemp -d)
hyperfine -N -w 2 -r "$runs" --export-json "$out/netns.json" \
  "$bin list -A" \
  "sh -c 'ss -Htuanp; ip -all netns exec ss -Htuanp'" >/dev/null 2>&1
read -r a b < <(jq -r '[.results[].median] | map(. * 1000) | @tsv' "$out/netns.json")
printf '%-40s %9.0f ms\n' "portinspect list -A" "$a"
printf '%-40s %9.0f ms\n' "ss -Htuanp in every namespace" "$b"
printf '%-40s %9.2f   (promise <= 0.6)\n' "ratio" "$(awk -v a="$a" -v b="$b" 'BEGIN { print a / b }')"
echo "namespaces: $(ip netns list | wc -l) named, plus this one; sockets listed: $("$bin" list -A 2>/dev/null | wc -l)"
