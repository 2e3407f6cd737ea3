#!/usr/bin/env bash
# Builds the SentinelTLS libFuzzer target and runs it on one core.
#
#   Fuzz/fuzz-tls.sh [SECONDS] [extra libFuzzer flags…]    (default 600 s)
#
# Certificates for the harness are generated into .build-fuzz/tls-fuzz/ (git-ignored); seeds
# (real ClientHellos, one resuming with a ticket) are written by the harness itself into
# Fuzz/corpus-tls/ on first use. Crashes land in Fuzz/out/; add each one to
# Tests/SentinelTLSTests/MalformedInputTests.swift before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-600}"
shift || true
mkdir -p .build-fuzz/tls-fuzz .build-fuzz/tls-shim Fuzz/corpus-tls Fuzz/out
# The C shim, instrumented like the Swift code; a module map so swiftc can import it.
clang -c -O1 -fsanitize=fuzzer-no-link,address -I Sources/CSentinelTLS/include \
    Sources/CSentinelTLS/shim.c -o .build-fuzz/tls-shim/shim.o
cat > .build-fuzz/tls-shim/module.modulemap <<MAP
module CSentinelTLS {
    header "$(pwd)/Sources/CSentinelTLS/include/CSentinelTLS.h"
    export *
}
MAP
# SentinelFormat (stdlib only), which SentinelTLS imports: its own module, found through -I.
swiftc -sanitize=address -parse-as-library -O -wmo -module-name SentinelFormat \
    -emit-module -emit-module-path .build-fuzz/tls-shim/SentinelFormat.swiftmodule \
    -c Sources/SentinelFormat/*.swift -o .build-fuzz/tls-shim/SentinelFormat.o
swiftc -sanitize=fuzzer,address -parse-as-library -O -use-ld=lld -module-name TLSFuzz \
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature InternalImportsByDefault \
    -I Sources/COpenSSL -I .build-fuzz/tls-shim \
    Sources/SentinelTLS/*.swift Fuzz/TLSFuzz/main.swift .build-fuzz/tls-shim/shim.o .build-fuzz/tls-shim/SentinelFormat.o \
    -lssl -lcrypto -o .build-fuzz/tls-fuzz-bin
export SWIFT_BACKTRACE=enable=no  # the Swift backtracer hangs under ASan
cd .build-fuzz
if [ ! -s tls-fuzz/ec.pem ]; then
  (cd tls-fuzz
   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.pem \
     -subj /CN=ec.test -addext subjectAltName=DNS:ec.test -days 3650 2>/dev/null
   openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.pem \
     -subj /CN=ec.test -addext subjectAltName=DNS:ec.test -days 3650 2>/dev/null)
fi
export SENTINEL_TLS_FUZZ_DIR=tls-fuzz
if [ -z "$(ls -A ../Fuzz/corpus-tls)" ]; then ./tls-fuzz-bin --write-seeds ../Fuzz/corpus-tls; fi
exec ./tls-fuzz-bin -jobs=1 -workers=1 -max_total_time="$seconds" -max_len=8192 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=../Fuzz/out/ "$@" ../Fuzz/corpus-tls
