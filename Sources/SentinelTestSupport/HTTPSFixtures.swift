public import Foundation

/// Certificates for the HTTPS listener tests, made at run time by the `openssl` command line
/// (no private key is committed), in a temporary directory, once per test process:
/// - a root CA (EC P-256) that issues `default` (default.test), `a` (a.test), `b` (b.test),
///   `a2` (a second certificate for a.test, for rotation), `soon` (soon.test, expires in 10
///   days) and the client certificate `client` (CN client-one);
/// - `other.key`, the key of no server certificate (it is the key of the self-signed client
///   certificate `untrusted.pem`);
/// - for upstream TLS: `upstream` (upstream.test and IP 127.0.0.1, by the root), `upstream-expired`
///   (the same names, expired), `rogue` (the same names, by `rogue-root`, a CA nobody trusts).
public final class HTTPSFixtures: Sendable {
    public static let shared: HTTPSFixtures = {
        do { return try HTTPSFixtures() } catch { fatalError("cannot generate HTTPS fixtures: \(error)") }
    }()

    public let dir: String

    init() throws {
        dir = try scriptedFixtureDirectory(prefix: "sentinel-https", script: Self.script)
    }

    public func path(_ name: String) -> String { dir + "/" + name }

    static let script = #"""
    set -eu
    ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out root.key 2>/dev/null
    openssl req -x509 -new -key root.key -out root.pem -subj "/CN=HTTPS Test Root" -days 3650 \
      -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    leaf() { # file cn serial [days]
      ec "$1"
      openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
      printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' "$2" > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA root.pem -CAkey root.key -set_serial "$3" -days "${4:-365}" -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    }
    leaf default default.test 10
    leaf a a.test 11
    leaf b b.test 12
    leaf a2 a.test 13
    leaf soon soon.test 14 10
    ec client
    openssl req -new -key client.key -out client.csr -subj "/CN=client-one" 2>/dev/null
    printf 'basicConstraints=CA:false\nextendedKeyUsage=clientAuth\n' > client.ext
    openssl x509 -req -in client.csr -CA root.pem -CAkey root.key -set_serial 20 -days 365 -extfile client.ext -out client.pem 2>/dev/null
    ec other
    openssl req -x509 -new -key other.key -out untrusted.pem -subj "/CN=untrusted" -days 30 2>/dev/null
    ec rogue-root
    openssl req -x509 -new -key rogue-root.key -out rogue-root.pem -subj "/CN=Rogue Root" -days 3650 \
      -addext "basicConstraints=critical,CA:true" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    upstream() { # file issuer serial days
      ec "$1"
      openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=upstream.test" 2>/dev/null
      printf 'basicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:upstream.test,IP:127.0.0.1\n' > "$1.ext"
      openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "$3" -days "$4" -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    }
    upstream upstream root 30 365
    upstream upstream-expired root 31 -1
    upstream rogue rogue-root 32 365
    """#
}

