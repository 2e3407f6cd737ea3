import Foundation
import SentinelTLS
import SentinelTestSupport

/// Certificates made at run time by the `openssl` command line into a temporary directory
/// (no private key is committed). Generated once per test process.
///
/// - root CA (EC P-256) → intermediate CA → `ecdsa.test` (chain: leaf + intermediate), OCSP response
/// - root → `rsa.test` (RSA 2048), `*.wild.test`, `san-a.test`+`san-b.test`, `default.test`,
///   `expired.test` (not after < not before), `weak.test` (RSA 1024), `ip.test` (also IP 127.0.0.1)
/// - client CA → `client-one` (CN, email SAN); root → `client-untrusted` (not signed by the client CA)
/// - client CA → `client-revoked`, revoked in `client-ca.crl`
/// - `other.key`: a key that belongs to no certificate
final class Fixtures: Sendable {
    static let shared: Fixtures = {
        do { return try Fixtures() } catch { fatalError("cannot generate TLS fixtures: \(error)") }
    }()

    let dir: String

    init() throws {
        dir = try scriptedFixtureDirectory(prefix: "sentinel-tls", script: Self.script)
    }

    func bytes(_ name: String) -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: dir + "/" + name) else { fatalError("missing fixture \(name)") }
        return [UInt8](d)
    }

    func path(_ name: String) -> String { dir + "/" + name }

    /// A chain from `<name>.pem` (plus `extra` PEM files appended) and `<name>.key`.
    func chain(_ name: String, extra: [String] = [], key: String? = nil) -> TLSCertificateChain {
        var pem = bytes(name + ".pem")
        for e in extra { pem += bytes(e) }
        return try! TLSCertificateChain(certificatePEM: pem, keyPEM: bytes(key ?? name + ".key"), source: name)
    }

    func serverCert(_ name: String, extra: [String] = [], ocsp: Bool = false) -> TLSServerCertificate {
        TLSServerCertificate(chain: chain(name, extra: extra), ocspResponse: ocsp ? bytes(name + ".ocsp.der") : nil)
    }

    var rootTrust: TLSTrustStore { try! TLSTrustStore(caPEM: bytes("root.pem"), source: "root.pem") }
    var clientTrust: TLSTrustStore { try! TLSTrustStore(caPEM: bytes("client-ca.pem"), source: "client-ca.pem") }

    static let script = #"""
    set -eu
    ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
    rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"$2" -out "$1.key" 2>/dev/null; }
    ca_self() { # name cn
      openssl req -x509 -new -key "$1.key" -out "$1.pem" -subj "/CN=$2" -days 3650 \
        -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null; }
    sign() { # name issuer subject ext days serial
      openssl req -new -key "$1.key" -out "$1.csr" -subj "$3" 2>/dev/null
      printf '%s\n' "$4" > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "$6" -days "$5" \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null; }
    LEAF='basicConstraints=CA:false
    keyUsage=critical,digitalSignature,keyEncipherment
    extendedKeyUsage=serverAuth'
    ec root; ca_self root "Sentinel Test Root"
    ec int; sign int root "/CN=Sentinel Test Intermediate" 'basicConstraints=critical,CA:true
    keyUsage=critical,keyCertSign,cRLSign' 3650 2
    ec ecdsa; sign ecdsa int "/CN=ecdsa.test" "$LEAF
    subjectAltName=DNS:ecdsa.test" 365 10
    rsa rsa 2048; sign rsa root "/CN=rsa.test" "$LEAF
    subjectAltName=DNS:rsa.test" 365 11
    ec wild; sign wild root "/CN=*.wild.test" "$LEAF
    subjectAltName=DNS:*.wild.test" 365 12
    ec san; sign san root "/CN=san-a.test" "$LEAF
    subjectAltName=DNS:san-a.test,DNS:san-b.test" 365 13
    ec default; sign default root "/CN=default.test" "$LEAF
    subjectAltName=DNS:default.test" 365 14
    ec expired; sign expired root "/CN=expired.test" "$LEAF
    subjectAltName=DNS:expired.test" -1 15
    rsa weak 1024; sign weak root "/CN=weak.test" "$LEAF
    subjectAltName=DNS:weak.test" 365 16
    ec ip; sign ip root "/CN=ip.test" "$LEAF
    subjectAltName=DNS:ip.test,IP:127.0.0.1" 365 19
    ec dualec; sign dualec root "/CN=dual.test" "$LEAF
    subjectAltName=DNS:dual.test" 365 17
    rsa dualrsa 2048; sign dualrsa root "/CN=dual.test" "$LEAF
    subjectAltName=DNS:dual.test" 365 18
    ec client-ca; ca_self client-ca "Sentinel Test Client CA"
    ec client-one; sign client-one client-ca "/O=Sentinel Tests/CN=client-one" 'basicConstraints=CA:false
    extendedKeyUsage=clientAuth
    subjectAltName=email:one@clients.test' 365 20
    ec client-untrusted; sign client-untrusted root "/CN=client-untrusted" 'basicConstraints=CA:false
    extendedKeyUsage=clientAuth' 365 21
    ec client-revoked; sign client-revoked client-ca "/CN=client-revoked" 'basicConstraints=CA:false
    extendedKeyUsage=clientAuth' 365 22
    printf '[ca]\ndefault_ca = c\n[c]\ndatabase = crl-index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 30\n' > crl.cnf
    echo 01 > crlnumber; touch crl-index.txt
    openssl ca -config crl.cnf -keyfile client-ca.key -cert client-ca.pem -revoke client-revoked.pem >/dev/null 2>&1
    openssl ca -config crl.cnf -keyfile client-ca.key -cert client-ca.pem -gencrl -out client-ca.crl >/dev/null 2>&1
    ec other
    touch index.txt
    openssl ocsp -issuer int.pem -cert ecdsa.pem -reqout ecdsa.ocsp-req.der -no_nonce >/dev/null 2>&1
    openssl ocsp -index index.txt -rsigner int.pem -rkey int.key -CA int.pem -reqin ecdsa.ocsp-req.der \
      -respout ecdsa.ocsp.der -ndays 1 >/dev/null 2>&1
    test -s ecdsa.ocsp.der
    """#
}

struct FixtureError: Error { var message: String }
