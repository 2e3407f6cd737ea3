#!/usr/bin/env bash
# Memory of `sentinel-stack up` with N workers against nginx with N workers (docs/benchmarks.md,
# "Memory"): per process (master, guard, each worker) VmRSS, Pss (/proc/PID/smaps_rollup: shared
# pages divided among the processes mapping them) and threads, idle and after a small_c64 load
# (wrk -t1 -c64 on a 100-byte response through the proxy to a private origin nginx); VmHWM is
# the peak. Both data paths (`system { data-path "nio" | "reactor" }`). Then where each Sentinel
# process's resident pages come from (Benchmarks/memory/smaps.py).
#
#   Benchmarks/memory/measure-stack.sh [build-dir]      (default .build/release)
#   WORKERS=2 SECONDS=5 CONNECTIONS=64 PATHS="nio reactor" BREAKDOWN=1   (the defaults)
set -euo pipefail
bin=$(cd "${1:-.build/release}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
workers=${WORKERS:-2}
secs=${SECONDS_LOAD:-5}
conns=${CONNECTIONS:-64}
paths=${PATHS:-nio reactor}
breakdown=${BREAKDOWN:-1}
dir=$(mktemp -d /tmp/mem-measure.XXXXXX)
chmod 755 "$dir"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
origin_port=$(free_port); nginx_port=$(free_port); stack_port=$(free_port)
pids_to_stop=()
cleanup() {
    for p in "${pids_to_stop[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

temp_paths() {
    for t in client_body proxy fastcgi uwsgi scgi; do echo "    ${t}_temp_path $1/${t}_temp;"; done
}
user_line=""
[ "$(id -u)" = 0 ] && user_line="user nobody nogroup;"

# The origin: one nginx worker serving /small (100 bytes).
mkdir -p "$dir/origin/html"
head -c 100 /dev/zero | tr '\0' 'x' > "$dir/origin/html/small"
cat > "$dir/origin/nginx.conf" <<EOF
$user_line
worker_processes 1;
daemon off;
pid $dir/origin/nginx.pid;
error_log $dir/origin/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_timeout 300s;
    keepalive_requests 1000000000;
$(temp_paths "$dir/origin")
    server { listen 127.0.0.1:$origin_port backlog=4096; root $dir/origin/html; location / { } }
}
EOF
nginx -c "$dir/origin/nginx.conf" -e "$dir/origin/error.log" &
pids_to_stop+=($!)

wait_http() {
    for _ in $(seq 200); do
        curl -sf -o /dev/null "http://127.0.0.1:$1/small" && return 0
        sleep 0.05
    done
    echo "nothing answers on port $1" >&2
    return 1
}

# The process and its descendants (nginx: master + workers; stack: master, guard, workers).
tree() {
    local p=$1
    echo "$p"
    for c in $(pgrep -P "$p" || true); do tree "$c"; done
}

kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/$3" 2>/dev/null || echo 0; }

# One line per process and a total: role, pid, threads, RSS, PSS, peak RSS (MiB).
report() {
    local label=$1; shift
    local trss=0 tpss=0 thwm=0
    printf '%-28s %-16s %7s %4s %8s %8s %8s\n' "$label" process pid thr "RSS MiB" "PSS MiB" "HWM MiB"
    for p in "$@"; do
        [ -d "/proc/$p" ] || continue
        local rss pss hwm thr name
        rss=$(kib "$p" VmRSS status); hwm=$(kib "$p" VmHWM status); pss=$(kib "$p" Pss smaps_rollup)
        thr=$(ls "/proc/$p/task" | wc -l); name=$(cat "/proc/$p/comm")
        trss=$((trss + rss)); tpss=$((tpss + pss)); thwm=$((thwm + hwm))
        printf '%-28s %-16s %7s %4s %8.1f %8.1f %8.1f\n' "" "$name" "$p" "$thr" \
            "$(echo "$rss/1024" | bc -l)" "$(echo "$pss/1024" | bc -l)" "$(echo "$hwm/1024" | bc -l)"
    done
    printf '%-28s %-16s %7s %4s %8.1f %8.1f %8.1f\n' "" total "" "" \
        "$(echo "$trss/1024" | bc -l)" "$(echo "$tpss/1024" | bc -l)" "$(echo "$thwm/1024" | bc -l)"
}

load() {
    wrk -t1 -c"$conns" -d"${secs}s" "http://127.0.0.1:$1/small" | awk '/Requests\/sec/ { print "    wrk: " $2 " req/s" }'
}

wait_http "$origin_port"

# nginx as the proxy, as ../shared/bench configures it.
mkdir -p "$dir/nginx"
cat > "$dir/nginx/nginx.conf" <<EOF
$user_line
worker_processes $workers;
daemon off;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    tcp_nodelay on;
    keepalive_timeout 300s;
    keepalive_requests 1000000000;
$(temp_paths "$dir/nginx")
    upstream backend { server 127.0.0.1:$origin_port; keepalive 1024; }
    server {
        listen 127.0.0.1:$nginx_port backlog=4096;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffer_size 16k;
            proxy_buffers 8 16k;
        }
    }
}
EOF
nginx -c "$dir/nginx/nginx.conf" -e "$dir/nginx/error.log" &
nginx_pid=$!
pids_to_stop+=($nginx_pid)
wait_http "$nginx_port"
echo "== nginx, $workers workers"
report "idle" $(tree "$nginx_pid")
load "$nginx_port"
report "after small_c$conns" $(tree "$nginx_pid")
kill -QUIT "$nginx_pid"; wait "$nginx_pid" 2>/dev/null || true

for path in $paths; do
    mkdir -p "$dir/$path"
    cat > "$dir/$path/sentinel.kdl" <<EOF
system {
    worker-processes $workers
    worker-threads 1
    data-path "$path"
    runtime-directory "$dir/$path/run"
}
listeners { listener "http" { address "127.0.0.1:$stack_port"; protocol "http" } }
routes { route "default" { matches { path-prefix "/" }; upstream "backend" } }
upstreams { upstream "backend" { target "127.0.0.1:$origin_port" } }
EOF
    "$bin/sentinel-stack" up --config "$dir/$path/sentinel.kdl" 2>"$dir/$path/stack.log" &
    stack=$!
    pids_to_stop+=($stack)
    wait_http "$stack_port"
    # Every worker ready and accepting (not just the first to answer).
    for _ in $(seq 100); do
        [ "$(grep -c '"event":"worker_accepting"' "$dir/$path/stack.log")" -ge "$workers" ] && break
        sleep 0.05
    done
    echo "== sentinel-stack, $workers workers, data-path $path"
    report "idle" $(tree "$stack")
    if [ "$breakdown" = 1 ]; then python3 "$here/smaps.py" $(tree "$stack"); fi
    load "$stack_port"
    report "after small_c$conns" $(tree "$stack")
    if [ "$breakdown" = 1 ]; then python3 "$here/smaps.py" $(pgrep -P "$stack" | head -n 1) $(pgrep -P "$stack" | tail -n 1); fi
    "$bin/sentinel-stack" stop --config "$dir/$path/sentinel.kdl" >/dev/null || true
    wait "$stack" 2>/dev/null || true
done
