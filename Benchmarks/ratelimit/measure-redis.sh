#!/usr/bin/env bash
# Two Sentinel instances (sentinel-stack, 2 workers each) on one Redis, one `max-rps 100 burst 20`
# limiter with backend "redis": sentinel-ratelimit-bench offers 1,000 requests a second for 10 s
# over 16 connections, half to each instance, and prints admitted/limited per second overall.
#
#   Benchmarks/ratelimit/measure-redis.sh [build-dir]     (default .build/release; needs redis-server)
set -euo pipefail
bin=${1:-.build/release}
dir=$(mktemp -d /tmp/rl-redis.XXXXXX)
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rport=$(free)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >"$dir/redis.log" 2>&1 &
redis=$!
pids=($redis)
trap 'kill ${pids[@]} 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
ports=()
for n in a b; do
    port=$(free)
    ports+=("127.0.0.1:$port")
    mkdir -p "$dir/$n"
    cat > "$dir/$n/sentinel.kdl" <<KDL
schema-version "1.0"
system { worker-processes 2; worker-threads 1; runtime-directory "$dir/$n/run"; }
listeners { listener "http" { address "127.0.0.1:$port"; protocol "http" } }
filters {
    filter "rl" {
        type "rate-limit"; max-rps 100; burst 20; key "client-ip"
        backend "redis"; redis-url "redis://127.0.0.1:$rport"; redis-prefix "bench:"
    }
}
routes {
    route "metrics" { matches { path "/metrics" }; builtin-handler "metrics" }
    route "limited" { matches { path-prefix "/limited" }; filters "rl"; builtin-handler "health" }
}
KDL
    "$bin/sentinel-stack" up --config "$dir/$n/sentinel.kdl" 2>"$dir/$n/stack.log" &
    pids+=($!)
done
for n in a b; do
    for _ in $(seq 100); do grep -q '"event":"started"' "$dir/$n/stack.log" && break; sleep 0.1; done
done
sleep 1
target=$(IFS=,; echo "${ports[*]}")
"$bin/sentinel-ratelimit-bench" http --target "$target" --offered 1000 --seconds 10 --connections 16 --path /limited
# Redis health as each instance saw it (a fallback decides locally: the figures above include them).
for p in "${ports[@]}"; do curl -s "http://$p/metrics" | grep -E '^sentinel_rate_limit_redis_(calls|fallbacks)' | grep -v ' 0$' | sed "s/^/$p /"; done
for n in a b; do "$bin/sentinel-stack" stop --config "$dir/$n/sentinel.kdl" >/dev/null; done
