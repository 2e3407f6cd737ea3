public import Foundation

/// Client-certificate and OCSP material for the HTTPS listener tests, made at run time by the
/// `openssl` command line in a temporary directory, once per test process (no private key is
/// committed). Server certificates come from `HTTPSFixtures`:
/// - a client CA `cca` (EC P-256) issuing `alice` (O=Sentinel Tests, CN=alice; SANs
///   email:alice@clients.test and URI:spiffe://tests/alice) and `mallory` (CN=mallory), which
///   `cca.crl` revokes; an intermediate `cint` under `cca` issuing `deep` (`deep-chain.pem` is
///   deep then cint);
/// - DER OCSP responses signed by the HTTPS root: `a.ocsp.der` (a.test: good, next update in a
///   week), `b-revoked.ocsp.der` (b.test: revoked).
public final class MTLSFixtures: Sendable {
    public static let shared: MTLSFixtures = {
        do { return try MTLSFixtures(https: .shared) } catch { fatalError("cannot generate mTLS fixtures: \(error)") }
    }()

    public let dir: String

    init(https: HTTPSFixtures) throws {
        dir = try scriptedFixtureDirectory(prefix: "sentinel-mtls", script: Self.script, arguments: [https.dir])
    }

    public func path(_ name: String) -> String { dir + "/" + name }

    static let script = #"""
    set -eu
    H="$1"
    ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
    ca() { # file subject issuer-or-empty serial
      ec "$1"
      if [ -z "$3" ]; then
        openssl req -x509 -new -key "$1.key" -out "$1.pem" -subj "$2" -days 3650 \
          -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
      else
        openssl req -new -key "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
        printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n' > "$1.ext"
        openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "$4" -days 3650 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
      fi
    }
    client() { # file subject issuer serial [san]
      ec "$1"
      openssl req -new -key "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
      printf 'basicConstraints=CA:false\nextendedKeyUsage=clientAuth\n' > "$1.ext"
      if [ -n "${5:-}" ]; then printf 'subjectAltName=%s\n' "$5" >> "$1.ext"; fi
      openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "$4" -days 365 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    }
    ca cca "/CN=Sentinel mTLS Test CA" "" 0
    client alice "/O=Sentinel Tests/CN=alice" cca 30 "email:alice@clients.test,URI:spiffe://tests/alice"
    client mallory "/CN=mallory" cca 31
    ca cint "/CN=Sentinel mTLS Intermediate" cca 32
    client deep "/CN=deep" cint 33
    cat deep.pem cint.pem > deep-chain.pem
    printf '[ca]\ndefault_ca = c\n[c]\ndatabase = crl-index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n' > crl.cnf
    echo 01 > crlnumber; touch crl-index.txt
    openssl ca -config crl.cnf -keyfile cca.key -cert cca.pem -revoke mallory.pem >/dev/null 2>&1
    openssl ca -config crl.cnf -keyfile cca.key -cert cca.pem -gencrl -out cca.crl >/dev/null 2>&1
    # OCSP responses for the HTTPS fixtures' a.test (serial 11 = 0B, good) and b.test (12 = 0C, revoked).
    exp=$(date -u -d '+1 year' +%y%m%d%H%M%SZ); rev=$(date -u -d '-1 day' +%y%m%d%H%M%SZ)
    printf 'V\t%s\t\t0B\tunknown\t/CN=a.test\nR\t%s\t%s\t0C\tunknown\t/CN=b.test\n' "$exp" "$exp" "$rev" > ocsp-index.txt
    for n in a b; do
      openssl ocsp -issuer "$H/root.pem" -cert "$H/$n.pem" -reqout "$n.ocsp-req.der" -no_nonce >/dev/null 2>&1
      openssl ocsp -index ocsp-index.txt -rsigner "$H/root.pem" -rkey "$H/root.key" -CA "$H/root.pem" \
        -reqin "$n.ocsp-req.der" -respout "$n.ocsp.der" -ndays 7 >/dev/null 2>&1
    done
    mv b.ocsp.der b-revoked.ocsp.der
    test -s a.ocsp.der && test -s b-revoked.ocsp.der
    """#
}
