#!/usr/bin/env bash
# Issue-4 benchmark: throughput and CPU per request of a 4-target upstream under each of
# round_robin, least_connections, maglev and peak_ewma, against a single-target upstream,
# through ../shared/bench (nginx anchor in the same runs). Needs a release build.
#
#   swift build -c release --product sentinel
#   Benchmarks/lb-cost.sh [rounds] [seconds]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
bench=${PROXYBENCH_DIR:-$root/../shared/bench}
rounds=${1:-3}
seconds=${2:-8}
out=${TMPDIR:-/tmp}/sentinel-lb-cost
rm -rf "$out"
for alg in single round_robin least_connections maglev peak_ewma; do
    "$bench/bench.sh" --candidate "$root/.build/release/sentinel --config {config}" --candidate-name "lb-$alg" \
        --template "$here/templates/lb-$alg.kdl" --only "nginx,lb-$alg" --scenarios small_c64 \
        -R "$rounds" -d "$seconds" -w 2 --no-direct --out "$out/$alg" >/dev/null 2>&1 || true
done
python3 - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
print("| upstream | req/s (median) | nginx req/s (same runs) | CPU µs/req | req/s vs single |")
print("|---|---:|---:|---:|---:|")
base = None
for alg in ["single", "round_robin", "least_connections", "maglev", "peak_ewma"]:
    path = os.path.join(out, alg, "results.json")
    if not os.path.exists(path):
        print(f"| {alg} | failed | | | |")
        continue
    s = json.load(open(path))["summary"]["small_c64"]
    me, ng = s.get(f"lb-{alg}", {}), s.get("nginx", {})
    rps = me.get("rps", {}).get("median")
    cpu = me.get("cpu_us_per_req", {}).get("median")
    if alg == "single":
        base = rps
    ratio = f"{rps / base:.3f}" if base and rps else "-"
    print(f"| {alg} | {rps:,.0f} | {ng.get('rps', {}).get('median', 0):,.0f} | {cpu:.1f} | {ratio} |")
PY
