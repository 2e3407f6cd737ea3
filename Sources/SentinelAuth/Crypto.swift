internal import COpenSSL

/// A public key held by OpenSSL (an `EVP_PKEY`), RSA or P-256 EC.
public final class PublicKey: @unchecked Sendable {
    // @unchecked: the key is never modified after loading; OpenSSL's verify calls only read it.
    let pkey: OpaquePointer

    public enum Kind: Sendable { case rsa, p256 }
    public let kind: Kind

    init(taking pkey: OpaquePointer) throws(AuthError) {
        self.pkey = pkey
        if EVP_PKEY_is_a(pkey, "RSA") == 1 {
            guard EVP_PKEY_get_bits(pkey) >= 2048 else {
                EVP_PKEY_free(pkey)
                throw AuthError("RSA keys shorter than 2048 bits are refused")
            }
            kind = .rsa
        } else if EVP_PKEY_is_a(pkey, "EC") == 1, EVP_PKEY_get_bits(pkey) == 256 {
            kind = .p256
        } else {
            EVP_PKEY_free(pkey)
            throw AuthError("only RSA and P-256 EC public keys are supported")
        }
    }

    deinit { EVP_PKEY_free(pkey) }

    /// A PEM public key (`BEGIN PUBLIC KEY`) or certificate (`BEGIN CERTIFICATE`, its key).
    public convenience init(pem: [UInt8]) throws(AuthError) {
        func read<T>(_ body: (OpaquePointer) -> T?) -> T? {
            pem.withUnsafeBytes { raw -> T? in
                guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
                defer { BIO_free(bio) }
                return body(bio)
            }
        }
        var loaded = read { PEM_read_bio_PUBKEY($0, nil, nil, nil) }
        if loaded == nil, let cert = read({ PEM_read_bio_X509($0, nil, nil, nil) }) {
            loaded = X509_get_pubkey(cert)
            X509_free(cert)
        }
        ERR_clear_error()
        guard let loaded else { throw AuthError("no PEM public key or certificate found") }
        try self.init(taking: loaded)
    }

    /// A DER SubjectPublicKeyInfo.
    convenience init(spki: [UInt8]) throws(AuthError) {
        let loaded: OpaquePointer? = spki.withUnsafeBufferPointer { buf in
            var p: UnsafePointer<UInt8>? = buf.baseAddress
            return d2i_PUBKEY(nil, &p, buf.count)
        }
        ERR_clear_error()
        guard let loaded else { throw AuthError("the key could not be parsed") }
        try self.init(taking: loaded)
    }

    /// Verifies an RSA PKCS#1 v1.5 or ECDSA (DER) signature over SHA-256 of `data`.
    func verifySHA256(signature: [UInt8], data: [UInt8]) -> Bool {
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, EVP_sha256(), nil, pkey) == 1 else { ERR_clear_error(); return false }
        let ok = signature.withUnsafeBufferPointer { s in
            data.withUnsafeBufferPointer { d in
                EVP_DigestVerify(ctx, s.baseAddress, s.count, d.baseAddress, d.count)
            }
        }
        ERR_clear_error()
        return ok == 1
    }
}

enum Crypto {
    static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 32
        key.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                _ = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), d.baseAddress, d.count, &out, &len)
            }
        }
        return out
    }

    static func sha256(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len: UInt32 = 32
        data.withUnsafeBufferPointer { d in
            _ = EVP_Digest(d.baseAddress, d.count, &out, &len, EVP_sha256(), nil)
        }
        return out
    }

    /// Compares in time that depends only on the length (OpenSSL's `CRYPTO_memcmp`).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 } }
    }
}

/// An authentication setting or key that cannot be used, with the reason.
public struct AuthError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
