extension TLSContextSet {
    /// A certificate a listener serves: the file it was read from and its leaf's facts.
    public struct ServedCertificate: Sendable, Equatable {
        public var source: String
        public var leaf: TLSCertificateInfo
    }

    /// Every certificate of every host, in configuration order (for the expiry metric).
    public var servedCertificates: [ServedCertificate] {
        hosts.flatMap { host in host.configuration.certificates.map { ServedCertificate(source: $0.chain.source, leaf: $0.chain.leaf) } }
    }
}
