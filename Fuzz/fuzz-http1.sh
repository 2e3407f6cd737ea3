#!/usr/bin/env bash
# Builds the SentinelHTTP1 libFuzzer target and runs it on one core.
#
#   Fuzz/fuzz-http1.sh [SECONDS] [extra libFuzzer flags…]    (default 600 s)
#
# Corpus: Fuzz/corpus-http1/ (git-ignored, grows across runs), seeded from Fuzz/seeds/http1/.
# The log is .build-fuzz/fuzz-0.log. Crashes and timeouts land in Fuzz/out/; add each one to
# Tests/SentinelHTTP1Tests/FuzzRegressionTests.swift before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
mkdir -p .build-fuzz Fuzz/corpus-http1 Fuzz/out
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name HTTP1Fuzz \
    -enable-upcoming-feature ExistentialAny \
    Sources/SentinelHTTP1/*.swift Tests/SentinelHTTP1Tests/HTTP1Invariants.swift Fuzz/HTTP1Fuzz/main.swift \
    -o .build-fuzz/http1-fuzz
export SWIFT_BACKTRACE=enable=no  # the Swift backtracer hangs under ASan
# -jobs writes fuzz-N.log into the working directory: run from .build-fuzz (git-ignored).
cd .build-fuzz
exec ./http1-fuzz -jobs=1 -workers=1 -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -print_final_stats=1 -dict=../Fuzz/http1.dict -artifact_prefix=../Fuzz/out/ "$@" \
    ../Fuzz/corpus-http1 ../Fuzz/seeds/http1
