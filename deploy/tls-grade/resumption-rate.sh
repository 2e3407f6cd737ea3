#!/bin/sh
# Session resumption rate under sentinel-stack: 2 workers, N connections with
# `openssl s_client -sess_in/-sess_out` (each connection offers the ticket the previous one
# received, as a browser does), a reload half way. Prints "Reused" counts before and after.
#
#   deploy/tls-grade/resumption-rate.sh [path/to/sentinel-stack] [connections] [tls1_2|tls1_3]
#
# Needs: openssl, curl, python3. Not part of the test suite.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
STACK=$(realpath "${1:-.build/debug/sentinel-stack}")
N=${2:-200}
VERSION=${3:-tls1_3}
OUT=$(mktemp -d /tmp/tls-resumption.XXXXXX)
cd "$OUT"
. "$HERE/make-certs.sh"
cp leaf.crt leaf.pem
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > sentinel.kdl <<CONF
system { worker-processes 2; worker-threads 1; runtime-directory "$OUT/run" }
listeners {
    listener "tls" {
        address "127.0.0.1:$PORT"
        protocol "https"
        tls { cert-file "$OUT/leaf.pem"; key-file "$OUT/leaf.key" }
    }
}
routes { route "h" { matches { path "/health" }; builtin-handler "health" } }
CONF
"$STACK" up -c sentinel.kdl > stack.log 2>&1 & MASTER=$!
trap 'kill $MASTER 2>/dev/null || true' EXIT
i=0; until curl -s --cacert root.pem --resolve grade.test:$PORT:127.0.0.1 -o /dev/null https://grade.test:$PORT/health; do
    i=$((i+1)); [ $i -lt 200 ] || { echo "no answer on $PORT" >&2; cat stack.log >&2; exit 1; }; sleep 0.1; done

connect() { # sess_in (may be empty) -> prints New/Reused
    if [ -n "$1" ]; then IN="-sess_in $1"; else IN=""; fi
    printf 'GET /health HTTP/1.1\r\nHost: grade.test\r\nConnection: close\r\n\r\n' |
        openssl s_client -connect 127.0.0.1:$PORT -servername grade.test -$VERSION -CAfile root.pem \
            -ign_eof $IN -sess_out next.pem 2>/dev/null | grep -Eo '^(New|Reused), ' | tr -d ', '
    # A TLS 1.2 resumption under the current key gets no new ticket: keep offering the old one.
    if [ -f next.pem ]; then mv next.pem ticket.pem; fi
}
first=$(connect "")
reused_before=0; reused_after=0; half=$((N / 2))
k=0
while [ $k -lt $N ]; do
    if [ $k -eq $half ]; then
        "$STACK" reload -c sentinel.kdl > reload.log 2>&1 || { echo "reload failed" >&2; cat reload.log >&2; exit 1; }
    fi
    r=$(connect ticket.pem)
    if [ "$r" = "Reused" ]; then
        if [ $k -lt $half ]; then reused_before=$((reused_before + 1)); else reused_after=$((reused_after + 1)); fi
    fi
    k=$((k + 1))
done
workers=$(grep -c '"worker_ready"\|"worker_started"' stack.log || true)
echo "first connection: $first ($VERSION)"
echo "before the reload: $reused_before / $half resumed"
echo "after the reload:  $reused_after / $((N - half)) resumed"
echo "total: $((reused_before + reused_after)) / $N = $(( (reused_before + reused_after) * 1000 / N / 10 )).$(( (reused_before + reused_after) * 1000 / N % 10 )) %"
echo "worker start events in the master's log: $workers (2 per generation)"
