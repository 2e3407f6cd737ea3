#!/usr/bin/env bash
# The judged rate-limit measurement (docs/benchmarks.md): sentinel-stack with 4 workers and a
# `max-rps 100 burst 20` limiter keyed by client IP; sentinel-ratelimit-bench drives 1,000
# requests a second for 10 s over 16 keep-alive connections (spread by the kernel over the
# workers' sockets) and prints admitted (2xx) and limited (429) per second, all workers together.
#
#   Benchmarks/ratelimit/measure-stack.sh [build-dir]     (default .build/release)
set -euo pipefail
bin=${1:-.build/release}
dir=$(mktemp -d /tmp/rl-measure.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$dir/sentinel.kdl" <<KDL
schema-version "1.0"
system {
    worker-processes 4
    worker-threads 1
    runtime-directory "$dir/run"
}
listeners { listener "http" { address "127.0.0.1:$port"; protocol "http" } }
filters { filter "rl" { type "rate-limit"; max-rps 100; burst 20; key "client-ip" } }
routes { route "limited" { matches { path-prefix "/" }; filters "rl"; builtin-handler "health" } }
KDL
"$bin/sentinel-stack" up --config "$dir/sentinel.kdl" 2>"$dir/stack.log" &
stack=$!
trap 'kill $stack 2>/dev/null; wait $stack 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q "\"event\":\"started\"" "$dir/stack.log" && break; sleep 0.1; done
# The readiness probe above took no token: the limited route is the only one, so wait for the
# bucket to refill (20 tokens at 100 a second) before measuring.
sleep 1
"$bin/sentinel-ratelimit-bench" http --target "127.0.0.1:$port" --offered 1000 --seconds 10 --connections 16 --path /limited
"$bin/sentinel-stack" stop --config "$dir/sentinel.kdl" >/dev/null
