#!/usr/bin/env bash
# Builds the SentinelAgentProtocol libFuzzer target (frame decoder + JSON message decoders) and
# runs it on one core.
#
#   Fuzz/fuzz-agent.sh [SECONDS] [extra libFuzzer flags…]    (default 600 s)
#
# Corpus: Fuzz/corpus-agent/ (git-ignored, grows across runs), seeded from Fuzz/seeds/agent/.
# -rss_limit_mb bounds memory: a hostile length must never make the decoder allocate for it.
# Crashes land in Fuzz/out/; add each one to Tests/SentinelAgentProtocolTests before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
mkdir -p .build-fuzz Fuzz/corpus-agent Fuzz/out
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name AgentFuzz \
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault \
    Sources/SentinelAgentProtocol/*.swift Fuzz/AgentFuzz/main.swift \
    -o .build-fuzz/agent-fuzz
export SWIFT_BACKTRACE=enable=no  # the Swift backtracer hangs under ASan
cd .build-fuzz
exec ./agent-fuzz -jobs=1 -workers=1 -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=1024 -print_final_stats=1 -artifact_prefix=../Fuzz/out/ "$@" \
    ../Fuzz/corpus-agent ../Fuzz/seeds/agent
