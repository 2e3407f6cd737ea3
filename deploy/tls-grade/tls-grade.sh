#!/bin/sh
# TLS grade: the same certificate behind nginx and Sentinel, each with its default TLS
# settings, scanned by testssl.sh; prints every finding on which the two differ.
#
#   deploy/tls-grade/tls-grade.sh [path/to/sentinel] [outdir]
#
# Needs: testssl.sh (apt install testssl.sh), nginx, openssl, curl. Not part of the test suite.
# Results: $outdir/{nginx,sentinel}.json (testssl JSON), $outdir/diff.txt.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SENTINEL=$(realpath "${1:-.build/debug/sentinel}")
OUT=${2:-$(mktemp -d /tmp/tls-grade.XXXXXX)}
mkdir -p "$OUT"
cd "$OUT"
command -v testssl >/dev/null || { echo "testssl.sh missing: apt install testssl.sh" >&2; exit 1; }

# A root CA and an ECDSA P-256 leaf for grade.test (the CA is handed to testssl as trusted).
. "$HERE/make-certs.sh"
cat leaf.crt root.pem > chain.pem   # what an operator serves: leaf then issuer (nginx: the same file)
cat leaf.crt > leaf-only.pem

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGINX_PORT=$(port)
SENTINEL_PORT=$(port)

# nginx: only what is needed to serve TLS; every ssl_* setting at its default, except
# ssl_protocols, set to the default of nginx >= 1.23.4 (Debian 12's 1.22 still defaults to
# TLSv1 TLSv1.1 TLSv1.2, without TLS 1.3).
mkdir -p nginx/logs
cat > nginx/nginx.conf <<CONF
daemon off;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/logs/error.log;
events {}
http {
    access_log off;
    client_body_temp_path $OUT/nginx; proxy_temp_path $OUT/nginx; fastcgi_temp_path $OUT/nginx;
    uwsgi_temp_path $OUT/nginx; scgi_temp_path $OUT/nginx;
    server {
        listen 127.0.0.1:$NGINX_PORT ssl;
        server_name grade.test;
        ssl_certificate $OUT/leaf-only.pem;
        ssl_certificate_key $OUT/leaf.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / { return 200 "ok\n"; }
    }
}
CONF

# Sentinel: an https listener with the certificate, every tls setting at its default.
cat > sentinel.kdl <<CONF
system { worker-threads 1 }
listeners {
    listener "tls" {
        address "127.0.0.1:$SENTINEL_PORT"
        protocol "https"
        tls { cert-file "$OUT/leaf-only.pem"; key-file "$OUT/leaf.key" }
    }
}
routes { route "ok" { matches { path-prefix "/" }; builtin-handler "health" } }
CONF

nginx -p "$OUT/nginx" -c "$OUT/nginx/nginx.conf" & NGINX=$!
"$SENTINEL" run -c sentinel.kdl > sentinel.log 2>&1 & SENT=$!
trap 'kill $NGINX $SENT 2>/dev/null || true' EXIT
for p in $NGINX_PORT $SENTINEL_PORT; do
    i=0; until curl -sk --resolve grade.test:$p:127.0.0.1 -o /dev/null https://grade.test:$p/; do
        i=$((i+1)); [ $i -lt 100 ] || { echo "port $p does not answer" >&2; exit 1; }; sleep 0.1; done
done

scan() { # name port
    testssl --quiet --color 0 --warnings off --add-ca "$OUT/root.pem" --ip 127.0.0.1 \
        --jsonfile "$OUT/$1.json" --logfile "$OUT/testssl-$1.log" "https://grade.test:$2/" > /dev/null 2>&1 || true
}
scan nginx $NGINX_PORT
scan sentinel $SENTINEL_PORT

# One line per finding: id, severity, text (ports, times and addresses left out).
flat() { # json port
    python3 - "$1" "$2" <<'PY'
import json, re, sys
port = sys.argv[2]
for f in json.load(open(sys.argv[1])):
    fid = f.get("id", "")
    if fid in ("scanTime", "engine_problem", "service", "pre_128cipher", "DNS_CAArecord", "rDNS", "clientsimulation-android_60"):
        continue
    text = f.get("finding", "").replace(port, "PORT")
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "DATE", text)
    print(f"{fid}\t{f.get('severity','')}\t{text}")
PY
}
flat nginx.json $NGINX_PORT | sort > nginx.txt
flat sentinel.json $SENTINEL_PORT | sort > sentinel.txt
diff nginx.txt sentinel.txt > diff.txt || true
echo "nginx:    $(grep -c . nginx.txt) findings, $(grep -cE '	(LOW|MEDIUM|HIGH|CRITICAL)	' nginx.txt || true) LOW or worse"
echo "sentinel: $(grep -c . sentinel.txt) findings, $(grep -cE '	(LOW|MEDIUM|HIGH|CRITICAL)	' sentinel.txt || true) LOW or worse"
echo "differences (< nginx, > sentinel): $OUT/diff.txt"
cat diff.txt
