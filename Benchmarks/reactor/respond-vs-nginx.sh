#!/bin/sh
# HTTP/1 keep-alive responder: reactor-bench (edge, level) against nginx `return 200`, one
# worker each pinned on CPU 1, wrk on CPU 0; user and system CPU per request from
# /proc/PID/stat around the measured run (after a warm-up). Usage:
#   Benchmarks/reactor/respond-vs-nginx.sh BENCH_BINARY [ROUNDS] [SECONDS]
set -eu
BIN=$1; ROUNDS=${2:-3}; SECS=${3:-5}
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
BODY=$(printf 'x%.0s' $(seq 1 99))
cat > "$TMP/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $TMP/nginx.pid; error_log $TMP/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; keepalive_timeout 75s;
  server { listen 127.0.0.1:18081 reuseport backlog=4096; default_type text/plain;
    location / { return 200 "$BODY\n"; } } }
CONF
ticks() { awk '{print $14, $15}' /proc/$1/stat; }
measure() { # name pid
  nice -n -15 taskset -c 0 wrk -t1 -c64 -d1s "http://127.0.0.1:$PORT/" >/dev/null 2>&1
  set -- "$1" "$2" $(ticks "$2")
  REQ=$(nice -n -15 taskset -c 0 wrk -t1 -c64 -d${SECS}s "http://127.0.0.1:$PORT/" | awk '/requests in/{print $1}')
  set -- "$@" $(ticks "$2")
  awk -v n="$1" -v r="$REQ" -v u0="$3" -v s0="$4" -v u1="$5" -v s1="$6" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    u = (u1 - u0) * 1e6 / hz / r; s = (s1 - s0) * 1e6 / hz / r
    printf "%-14s %9d req  user %.2f µs/req  sys %.2f µs/req  total %.2f\n", n, r, u, s, u + s }'
}
for round in $(seq 1 "$ROUNDS"); do
  PORT=18081; nice -n -15 taskset -c 1 nginx -c "$TMP/nginx.conf" & sleep 0.5
  # The worker (the child of the master whose pid nginx wrote) does the work.
  MASTER=$(cat "$TMP/nginx.pid"); measure nginx "$(pgrep -P "$MASTER" | head -1)"
  kill "$MASTER"; wait 2>/dev/null || true
  for mode in edge level; do
    PORT=18082; FLAG=""; [ $mode = level ] && FLAG=--level
    nice -n -15 taskset -c 1 "$BIN" respond --port $PORT $FLAG 2>"$TMP/bench.log" & P=$!; sleep 0.5
    measure "reactor-$mode" $P
    kill -TERM $P; wait $P 2>/dev/null || true
    grep -E "rusage|stats" "$TMP/bench.log" | sed 's/^/    /'
  done
done
