#!/usr/bin/env bash
# containers-compare.sh: what Docker containers cost `portinspect PORT`,
# and how it compares with ss and lsof on a published port.
#
#   bench/containers-compare.sh [RUNS] [N]
#
# Brings up bench/loaded-host (its namespace "loadhost") unless it is up,
# and times with hyperfine `portinspect 3372` in the loaded host's
# namespace; then starts N busybox httpd containers (default 10) under the
# running Docker daemon, each published on a loopback port (127.0.0.1:19001
# and up), and times:
#   portinspect 3372 in the loaded host's namespace again (budget +15%)
#   portinspect 19001 here: docker-proxy's port, the container it forwards
#     to (config.v2.json) and the listener behind it (the container's
#     namespace entered), with every NAT rule read
#   ss -Htlnp 'sport = :19001' and lsof -nP -iTCP:19001 -sTCP:LISTEN, which
#     name docker-proxy and nothing behind it
# The containers are removed at the end; the loaded host and dockerd are
# left as they were. Needs root and a running Docker daemon.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
runs=${1:-20}
n=${2:-10}

[[ $(id -u) == 0 ]] || { echo "containers-compare.sh: needs root" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "containers-compare.sh: no Docker daemon running (start dockerd)" >&2; exit 2; }
need=()
for tool in hyperfine lsof jq; do command -v "$tool" >/dev/null || need+=("$tool"); done
if ((${#need[@]})); then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; fi

bin=$(mktemp -d)/portinspect
(cd "$top" && go build -o "$bin" ./cmd/portinspect)
ip netns list | grep -qw loadhost || "$here/loaded-host" up loadhost

image=portinspect-test-busybox:1
if ! docker image inspect "$image" >/dev/null 2>&1; then
  rootfs=$(mktemp -d)
  mkdir "$rootfs/bin" && cp "$(command -v busybox)" "$rootfs/bin/" && ln -s busybox "$rootfs/bin/httpd"
  tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
fi

out=$(mktemp -d)
median() { jq -r "[.results[].median] | map(. * 1000) | @tsv" "$1"; }
hyperfine -N -i -w 3 -r "$runs" --export-json "$out/before.json" "$here/loaded-host run loadhost -- $bin 3372" >/dev/null 2>&1

names=()
cleanup() { ((${#names[@]})) && docker rm -f "${names[@]}" >/dev/null 2>&1 || true; }
trap cleanup EXIT
for i in $(seq "$n"); do
  names+=("pibench$i")
  docker run -d --name "pibench$i" -p "127.0.0.1:$((19000 + i)):8080" "$image" /bin/httpd -f -p 8080 >/dev/null
done
sleep 1

hyperfine -N -i -w 3 -r "$runs" --export-json "$out/after.json" \
  "$here/loaded-host run loadhost -- $bin 3372" \
  "$bin 19001" \
  "ss -Htlnp 'sport = :19001'" \
  "lsof -nP -iTCP:19001 -sTCP:LISTEN" >/dev/null 2>&1
read -r before < <(median "$out/before.json")
read -r after pub ss lsof < <(median "$out/after.json")
printf '%-58s %9.1f ms\n' "portinspect 3372 (loaded host), no containers" "$before"
printf '%-58s %9.1f ms   (%+.0f%%; budget +15%%)\n' "portinspect 3372 (loaded host), $n containers" "$after" "$(awk -v a="$after" -v b="$before" 'BEGIN { print (a / b - 1) * 100 }')"
printf '%-58s %9.1f ms\n' "portinspect 19001 (docker-proxy, container, listener)" "$pub"
printf '%-58s %9.1f ms   (portinspect / ss %.2f)\n' "ss -Htlnp 'sport = :19001'" "$ss" "$(awk -v a="$pub" -v b="$ss" 'BEGIN { print a / b }')"
printf '%-58s %9.1f ms   (portinspect / lsof %.2f)\n' "lsof -nP -iTCP:19001 -sTCP:LISTEN" "$lsof" "$(awk -v a="$pub" -v b="$lsof" 'BEGIN { print a / b }')"
