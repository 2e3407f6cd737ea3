/// A 64-bit hash whose output is the same in every process, on every run and on every platform.
///
/// Why it exists: hash-based balancing (ip_hash, consistent hashing, maglev, subsetting) only keeps
/// affinity if every worker and every restarted process maps a key to the same target. Swift's
/// `Hasher` is seeded per process, so it cannot be used. The optional seed (`BalancerOptions.hashSeed`)
/// lets an operator make placement unpredictable to outsiders, who could otherwise aim crafted keys
/// (header values, paths) at one target; it is a placement salt, not a MAC.
enum StableHash {
    /// The murmur3 64-bit finaliser: a bijection with full avalanche.
    @inline(__always)
    static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }

    /// Hashes bytes eight at a time, each word folded through `mix`; the length is mixed in last so
    /// inputs that differ only by trailing zero bytes do not collide.
    static func hash(_ bytes: some Sequence<UInt8>, seed: UInt64) -> UInt64 {
        var h = mix(seed ^ 0x9E37_79B9_7F4A_7C15)
        var word: UInt64 = 0
        var shift: UInt64 = 0
        var count: UInt64 = 0
        for byte in bytes {
            word |= UInt64(byte) << shift
            shift += 8
            count &+= 1
            if shift == 64 {
                h = mix(h ^ word) &* 0x9E37_79B9_7F4A_7C15
                word = 0
                shift = 0
            }
        }
        h = mix(h ^ word)
        return mix(h ^ count)
    }

    static func hash(_ string: String, seed: UInt64) -> UInt64 {
        hash(string.utf8, seed: seed)
    }

    /// Combines two hashes (e.g. a target's hash with a virtual-node number).
    @inline(__always)
    static func combine(_ a: UInt64, _ b: UInt64) -> UInt64 {
        mix(a ^ (b &* 0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D)
    }
}

/// SplitMix64: expands one word of caller-supplied entropy into as many random numbers as a pick needs.
///
/// Why it exists: a `PickContext` stays a plain `Sendable` value (no `inout` generic RNG threaded
/// through every balancer), the caller decides where entropy comes from, and tests replay exactly.
/// It is never used for secrets.
struct SplitMixRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0..<bound` (Lemire's multiply-high; the bias is below 2⁻⁵⁰ for the bounds used here).
    mutating func below(_ bound: Int) -> Int {
        precondition(bound > 0)
        return Int(truncatingIfNeeded: UInt64(bound).multipliedFullWidth(by: next()).high)
    }

    /// A value in `[0, 1)` with 53 random bits.
    mutating func unit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }
}

/// Numeric helpers the standard library lacks without Foundation or Glibc.
enum PolicyMath {
    /// e^x, accurate to a few ulps; used for time-decayed EWMAs (x is never large and positive here).
    static func exp(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x < -745 { return 0 }
        if x > 709 { return .infinity }
        // Cody–Waite reduction (fdlibm's split of ln 2): k·ln2Hi is exact, so r keeps full precision.
        let ln2Hi = 6.931_471_803_691_238_164_90e-01
        let ln2Lo = 1.908_214_929_270_587_700_02e-10
        let k = Double(roundToInt(x * 1.442_695_040_888_963_387))
        let r = (x - k * ln2Hi) - k * ln2Lo  // |r| ≤ ln2 / 2
        // Taylor series to r¹³/13! (< 2e-16 relative for |r| ≤ ln2/2), Horner's rule on 1/n!
        // constants so no division sits on the dependency chain.
        var sum = 1.0 / 6_227_020_800
        sum = sum * r + 1.0 / 479_001_600
        sum = sum * r + 1.0 / 39_916_800
        sum = sum * r + 1.0 / 3_628_800
        sum = sum * r + 1.0 / 362_880
        sum = sum * r + 1.0 / 40_320
        sum = sum * r + 1.0 / 5_040
        sum = sum * r + 1.0 / 720
        sum = sum * r + 1.0 / 120
        sum = sum * r + 1.0 / 24
        sum = sum * r + 1.0 / 6
        sum = sum * r + 0.5
        sum = sum * r + 1
        sum = sum * r + 1
        return Double(sign: .plus, exponent: Int(k), significand: sum)
    }

    // Rounding is done with integer conversion (a CPU instruction) rather than `rounded()`, which
    // lowers to libm's round/ceil/floor on Linux: this module must link without libm.

    /// The smallest integer ≥ x, saturating instead of trapping (NaN gives 0).
    static func ceilInt(_ x: Double) -> Int {
        if x.isNaN { return 0 }
        if !(x < 9.2e18) { return Int.max }
        if !(x > -9.2e18) { return Int.min }
        let t = Int(x)  // toward zero
        return Double(t) < x ? t + 1 : t
    }

    /// The largest integer ≤ x, saturating instead of trapping (NaN gives 0).
    static func floorInt(_ x: Double) -> Int {
        -ceilInt(-x)
    }

    /// The nearest integer, halves away from zero, saturating (NaN gives 0).
    static func roundToInt(_ x: Double) -> Int {
        x < 0 ? -floorInt(-x + 0.5) : floorInt(x + 0.5)
    }
}

extension Duration {
    /// This duration in seconds as a `Double` (sub-nanosecond precision is irrelevant here).
    var policySeconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }

    /// This duration in whole nanoseconds, saturating.
    var policyNanoseconds: Int64 {
        let c = components
        let (ns, overflow) = c.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return c.seconds < 0 ? .min : .max }
        return ns &+ c.attoseconds / 1_000_000_000
    }

    /// A duration from seconds, saturating for non-finite or huge values.
    static func policySeconds(_ seconds: Double) -> Duration {
        guard seconds.isFinite else { return seconds > 0 ? .seconds(Int64.max / 2) : .zero }
        if seconds > 9e9 { return .seconds(Int64(9e9)) }
        return .nanoseconds(Int64(PolicyMath.roundToInt(seconds * 1e9)))
    }
}
