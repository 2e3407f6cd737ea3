#!/usr/bin/env bash
# perf-proxy.sh: load-proof per-request measures of one Sentinel binary on a scenario
# (docs/benchmarks.md, "rx-perf"). Starts a private nginx origin (/small 100 B, /64k) and the
# given binary with `data-path` reactor (or nio), then for the scenario:
#   cpu    wrk for D seconds; user and system CPU µs per request from /proc/PID/stat
#   strace strace -c -f during a wrk run: system calls per request
#   perf   perf record -e cpu-clock -g during a wrk run; the top symbols (self) and folded
#          stacks in $OUT/<name>.folded (flamegraph input)
# Usage: perf-proxy.sh BINARY NAME SCENARIO [reactor|nio] [seconds]
#   SCENARIO: small_c64 | large_64k | conn_close | latency_c8 | idle (RSS per idle keep-alive
#   connection with $IDLE connections, default 10,000: idle-rss.py)
set -euo pipefail
BIN=$1; NAME=$2; SCEN=$3; PATHKIND=${4:-reactor}; D=${5:-5}
OUT=${OUT:-/tmp/rxperf}; mkdir -p "$OUT"
W=$(mktemp -d); trap 'kill $SP $OP 2>/dev/null || true; wait 2>/dev/null; rm -rf "$W"' EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
BP=$(free_port); PP=$(free_port)
mkdir -p "$W/html"
python3 - "$W/html" <<'PY'
import sys,os
p=b"proxybench-origin-body-"
for name,size in (("small",100),("64k",65536)):
    open(os.path.join(sys.argv[1],name),"wb").write((p*(size//len(p)+1))[:size])
PY
cat > "$W/nginx.conf" <<NG
worker_processes 1; daemon off; master_process off; pid $W/nginx.pid; error_log $W/error.log warn;
events { worker_connections 16384; }
http { access_log off; server_tokens off; etag off; sendfile on; tcp_nopush on; tcp_nodelay on;
  keepalive_timeout 300s; keepalive_requests 1000000000; default_type application/octet-stream;
  client_body_temp_path $W; proxy_temp_path $W; fastcgi_temp_path $W; uwsgi_temp_path $W; scgi_temp_path $W;
  server { listen 127.0.0.1:$BP backlog=4096; root $W/html; location / { } } }
NG
nginx -c "$W/nginx.conf" & OP=$!
cat > "$W/sentinel.kdl" <<KDL
system {
    worker-threads 1
    data-path "$PATHKIND"
}
listeners {
    listener "http" {
        address "127.0.0.1:$PP"
        protocol "http"
    }
}
routes {
    route "default" {
        matches {
            path-prefix "/"
        }
        upstream "backend"
    }
}
upstreams {
    upstream "backend" {
        target "127.0.0.1:$BP"
    }
}
KDL
ulimit -n 65536
"$BIN" --config "$W/sentinel.kdl" >"$W/sentinel.log" 2>&1 & SP=$!
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PP/small" && break; sleep 0.1; done
if [ "$SCEN" = idle ]; then
  python3 "$(dirname "$0")/idle-rss.py" "$PP" "$SP" "${IDLE:-10000}"
  exit 0
fi
case $SCEN in
  small_c64) ARGS=(-t1 -c64 "http://127.0.0.1:$PP/small") ;;
  large_64k) ARGS=(-t1 -c64 "http://127.0.0.1:$PP/64k") ;;
  conn_close) ARGS=(-t1 -c64 -H "Connection: close" "http://127.0.0.1:$PP/small") ;;
  latency_c8) ARGS=(-t1 -c8 "http://127.0.0.1:$PP/small") ;;
  *) echo "unknown scenario $SCEN" >&2; exit 2 ;;
esac
ticks() { awk '{print $14, $15}' /proc/$SP/stat; }
reqs() { sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$1"; }
wrk -d1 "${ARGS[@]}" >/dev/null  # warm-up
read -r u0 s0 < <(ticks)
wrk -d"$D" "${ARGS[@]}" > "$W/wrk.txt"
read -r u1 s1 < <(ticks)
N=$(reqs "$W/wrk.txt"); HZ=$(getconf CLK_TCK)
python3 -c "
n=$N; hz=$HZ
print('cpu $NAME $SCEN: %d req in ${D}s (%.0f/s), user %.2f us/req, sys %.2f us/req, load %s' % (n, n/$D, ($u1-$u0)/hz*1e6/n, ($s1-$s0)/hz*1e6/n, open('/proc/loadavg').read().split()[0]))"
if [ "${STRACE:-1}" = 1 ]; then
  strace -c -f -p $SP -o "$W/strace.txt" & TP=$!; sleep 0.5
  wrk -d3 "${ARGS[@]}" > "$W/wrk2.txt"; kill -INT $TP; wait $TP 2>/dev/null || true
  N2=$(reqs "$W/wrk2.txt")
  python3 - "$W/strace.txt" "$N2" "$NAME" "$SCEN" <<'PY'
import sys
lines=open(sys.argv[1]).read().splitlines(); n=int(sys.argv[2]); calls={}
for l in lines:
    f=l.split()
    if len(f)>=5 and f[0][0].isdigit() and f[-1]!='total':
        try: calls[f[-1]]=int(f[3])
        except ValueError: pass
tot=sum(calls.values())
print("syscalls %s %s: %.2f per request (%d requests): %s" % (sys.argv[3], sys.argv[4], tot/n, n,
  ", ".join("%s %.2f" % (k, v/n) for k, v in sorted(calls.items(), key=lambda kv: -kv[1]) if v/n >= 0.01)))
PY
fi
if [ "${PERF:-1}" = 1 ]; then
  set +e
  perf record -q -e cpu-clock -g -p $SP -o "$W/perf.data" -- sleep "$D" 2>/dev/null & PF=$!
  wrk -d"$D" "${ARGS[@]}" > "$W/wrk3.txt"; wait $PF || true
  perf report -i "$W/perf.data" --no-children --sort dso,symbol -g none --percent-limit 0.5 --stdio 2>&1 | grep -E '^ +[0-9]' | sed 's/ *- *- *$//' | head -${TOP:-25} > "$OUT/$NAME-$SCEN.top"
  perf script -i "$W/perf.data" 2>/dev/null | python3 -c '
import sys
stack=[]; counts={}
for line in sys.stdin:
    line=line.rstrip("\n")
    if not line.strip():
        if stack: k=";".join(reversed(stack)); counts[k]=counts.get(k,0)+1
        stack=[]; continue
    if line.startswith((" ","\t")):
        parts=line.strip().split(" ",1)
        if len(parts)==2: stack.append(parts[1].split("+0x")[0].split(" (")[0])
if stack: k=";".join(reversed(stack)); counts[k]=counts.get(k,0)+1
for k,v in sorted(counts.items(), key=lambda kv:-kv[1]): print(k, v)' > "$OUT/$NAME-$SCEN.folded"
  echo "perf $NAME $SCEN: top symbols in $OUT/$NAME-$SCEN.top, folded stacks in $OUT/$NAME-$SCEN.folded"
  head -${TOP:-25} "$OUT/$NAME-$SCEN.top"
fi
