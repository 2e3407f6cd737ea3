#!/bin/sh
# Writes a throwaway root CA (root.key, root.pem) and an ECDSA P-256 leaf for grade.test signed
# by it (leaf.key, leaf.crt) into the current directory. Sourced by the scripts beside it.
#
#   . "$(dirname "$0")/make-certs.sh"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out root.key 2>/dev/null
openssl req -x509 -new -key root.key -out root.pem -subj "/CN=Sentinel TLS Test Root" -days 30 \
  -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out leaf.key 2>/dev/null
openssl req -new -key leaf.key -out leaf.csr -subj "/CN=grade.test" 2>/dev/null
printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:grade.test\n' > leaf.ext
openssl x509 -req -in leaf.csr -CA root.pem -CAkey root.key -set_serial 7 -days 30 -extfile leaf.ext -out leaf.crt 2>/dev/null
