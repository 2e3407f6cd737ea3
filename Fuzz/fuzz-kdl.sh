#!/usr/bin/env bash
# Builds the KDL libFuzzer target and runs it on one core.
#
#   Fuzz/fuzz-kdl.sh [seconds]        (default 600)
#
# Seeds: the KDL 2 suite carried in Tests/KDLTests/Conformance/kdl-v2 and Tests/KDLTests/Fuzz/.
# Outputs (gitignored): .build-fuzz/kdl-fuzz, .build-fuzz/corpus/, .build-fuzz/artifacts/,
# .build-fuzz/fuzz.log. Crashes/timeouts land in .build-fuzz/artifacts/; copy each one into
# Tests/KDLTests/Fuzz/ once fixed so the regression test keeps it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
suite=Tests/KDLTests/Conformance/kdl-v2
out=.build-fuzz
mkdir -p "$out/corpus" "$out/artifacts"

swiftc -sanitize=fuzzer,address -parse-as-library -O -use-ld=lld \
    Sources/KDL/*.swift Fuzz/KDLFuzz/main.swift -o "$out/kdl-fuzz"

seeds=()
if [ -d "$suite/input" ]; then seeds+=("$suite/input"); else echo "warning: no suite at $suite (no seeds)" >&2; fi
if [ -d Tests/KDLTests/Fuzz ]; then seeds+=(Tests/KDLTests/Fuzz); fi

# One job, one worker: the machine is shared with other builds.
"$out/kdl-fuzz" "$out/corpus" "${seeds[@]}" \
    -max_len=4096 -timeout=5 -rss_limit_mb=2048 -max_total_time="$seconds" \
    -dict=Fuzz/kdl.dict -artifact_prefix="$out/artifacts/" -print_final_stats=1 2>&1 | tee "$out/fuzz.log"
