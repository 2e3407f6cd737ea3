/// Writes a small MaxMind DB (`.mmdb`, format 2.0) for tests: an IPv4 search tree over the given
/// networks, each with a record `{"country": {"iso_code": "<CC>"}}` as GeoLite2-Country has it.
/// Tests build their own databases with it: no downloaded database, no network.
///
/// The format (https://maxmind.github.io/MaxMind-DB/): a binary search tree of `nodeCount` nodes
/// (24-bit records, left then right, big-endian), 16 zero bytes, the data section, then
/// "\xAB\xCD\xEFMaxMind.com" and the metadata map. A record below `nodeCount` points at a node;
/// `nodeCount` means "no data"; above, it points into the data section at
/// `record - nodeCount - 16`.
public enum MMDBWriter {
    /// One network: `address` (four octets) with `prefix` leading bits, and its country code.
    public struct Network: Sendable {
        public var address: [UInt8]
        public var prefix: Int
        public var country: String

        public init(_ cidr: String, _ country: String) {
            let parts = cidr.split(separator: "/")
            address = parts[0].split(separator: ".").map { UInt8($0)! }
            prefix = parts.count > 1 ? Int(parts[1])! : 32
            self.country = country
        }
    }

    private enum Record { case empty, node(Int), data(Int) }

    /// The database's bytes. Networks must not overlap; `databaseType` lands in the metadata.
    public static func database(_ networks: [Network], databaseType: String = "Sentinel-Test-Country", buildEpoch: UInt64 = 1_700_000_000) -> [UInt8] {
        // The data section: one record per distinct country, by offset.
        var data: [UInt8] = []
        var offsets: [String: Int] = [:]
        for n in networks where offsets[n.country] == nil {
            offsets[n.country] = data.count
            data += map([("country", map([("iso_code", string(n.country))]))])
        }
        // The tree: node 0 is the root; each network walks its prefix, making nodes as needed.
        var nodes: [[Record]] = [[.empty, .empty]]
        for n in networks {
            precondition(n.address.count == 4 && (1...32).contains(n.prefix), "IPv4 networks with a prefix of 1 to 32 bits")
            var node = 0
            for depth in 0..<n.prefix {
                let bit = Int(n.address[depth / 8] >> (7 - UInt8(depth % 8)) & 1)
                if depth == n.prefix - 1 {
                    nodes[node][bit] = .data(offsets[n.country]!)
                    break
                }
                switch nodes[node][bit] {
                case .node(let next): node = next
                case .empty:
                    nodes.append([.empty, .empty])
                    nodes[node][bit] = .node(nodes.count - 1)
                    node = nodes.count - 1
                case .data: preconditionFailure("overlapping networks")
                }
            }
        }
        let count = nodes.count
        var out: [UInt8] = []
        for node in nodes {
            for record in node {
                let value: Int = switch record {
                case .empty: count
                case .node(let i): i
                case .data(let offset): count + 16 + offset
                }
                out += [UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
            }
        }
        out += [UInt8](repeating: 0, count: 16)
        out += data
        out += [0xAB, 0xCD, 0xEF] + Array("MaxMind.com".utf8)
        out += map([
            ("binary_format_major_version", uint(2, type: 5)),
            ("binary_format_minor_version", uint(0, type: 5)),
            ("build_epoch", uint(buildEpoch, type: 9)),
            ("database_type", string(databaseType)),
            ("description", map([("en", string("Sentinel test database"))])),
            ("ip_version", uint(4, type: 5)),
            ("languages", array([string("en")])),
            ("node_count", uint(UInt64(count), type: 6)),
            ("record_size", uint(24, type: 5)),
        ])
        return out
    }

    // The data section's encoding: a control byte (type in the top 3 bits, or 0 and an
    // extended type byte `type - 7`; size in the low 5 bits, below 29 here), then the payload.
    private static func control(type: Int, size: Int) -> [UInt8] {
        precondition(size < 29)
        if type <= 7 { return [UInt8(type << 5 | size)] }
        return [UInt8(size), UInt8(type - 7)]
    }

    private static func string(_ s: String) -> [UInt8] { control(type: 2, size: s.utf8.count) + Array(s.utf8) }

    private static func map(_ pairs: [(String, [UInt8])]) -> [UInt8] {
        pairs.reduce(control(type: 7, size: pairs.count)) { $0 + string($1.0) + $1.1 }
    }

    private static func array(_ items: [[UInt8]]) -> [UInt8] { items.reduce(control(type: 11, size: items.count)) { $0 + $1 } }

    /// An unsigned integer of `type` (5: uint16, 6: uint32, 9: uint64) in its shortest big-endian form.
    private static func uint(_ v: UInt64, type: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var x = v
        while x > 0 { bytes.insert(UInt8(x & 0xFF), at: 0); x >>= 8 }
        return control(type: type, size: bytes.count) + bytes
    }
}
