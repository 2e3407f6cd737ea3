/// The token bucket of `TokenBucket`, kept in Redis so several Sentinel instances share it.
///
/// One string key per bucket, `<prefix><key>` as the original names them (`<key>`: the client
/// IP, the path, the route id, `<ip>:<path>`, or the header's value, "unknown" without one),
/// holding the arrival time in microseconds of Redis's own clock (`TIME`), so instances with
/// different clocks agree. One `EVALSHA` per request runs the whole decision atomically in Redis;
/// the key expires when its bucket would be full (an idle key costs Redis nothing). The original
/// kept a sorted set per key and counted rejected requests too, so a client over the limit
/// stayed limited however slowly the rate allowed; a bucket takes a token only from requests
/// it lets through.
public enum RedisBucket {
    /// KEYS[1]: the bucket; ARGV: interval µs, tolerance µs, max delay µs (0: none).
    /// Returns {1, remaining, full-after µs} (admitted), {2, wait µs, full-after µs} (delayed) or
    /// {0, retry-after µs, full-after µs} (limited).
    public static let script = """
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
    local interval = tonumber(ARGV[1])
    local tolerance = tonumber(ARGV[2])
    local maxdelay = tonumber(ARGV[3])
    local tat = tonumber(redis.call('GET', KEYS[1])) or 0
    if tat < now then tat = now end
    local nxt = tat + interval
    local horizon = now + tolerance
    local wait = nxt - horizon
    if wait <= 0 or (maxdelay > 0 and wait <= maxdelay) then
      redis.call('SET', KEYS[1], string.format('%d', nxt), 'PX', math.floor((nxt - now) / 1000) + 1)
      if wait <= 0 then return {1, math.floor((horizon - nxt) / interval), nxt - now} end
      return {2, wait, nxt - now}
    end
    return {0, wait, tat - now}
    """

    /// The script's SHA-1, for EVALSHA (computed here so no round trip is spent on SCRIPT LOAD).
    public static let scriptSHA1: String = SHA1.hex(Array(script.utf8))

    /// The Redis key of a request: `<prefix><key text>`.
    public static func key(prefix: String, rule: RateLimitRule.Key, clientIP: String, path: String, route: String,
                           header: String?) -> [UInt8] {
        let text: String = switch rule {
        case .clientIP: clientIP
        case .path: path
        case .route: route
        case .clientIPAndPath: clientIP + ":" + path
        case .header: header ?? "unknown"
        }
        return Array((prefix + text).utf8)
    }

    /// The arguments of one call: EVALSHA sha 1 key interval tolerance maxdelay.
    public static func evalsha(key: [UInt8], bucket: TokenBucket, maxDelay: UInt64) -> [UInt8] {
        RESP.command([Array("EVALSHA".utf8), Array(scriptSHA1.utf8), [UInt8(ascii: "1")], key] + arguments(bucket, maxDelay))
    }

    /// The same call with the script's text (after a NOSCRIPT reply).
    public static func eval(key: [UInt8], bucket: TokenBucket, maxDelay: UInt64) -> [UInt8] {
        RESP.command([Array("EVAL".utf8), Array(script.utf8), [UInt8(ascii: "1")], key] + arguments(bucket, maxDelay))
    }

    static func arguments(_ b: TokenBucket, _ maxDelay: UInt64) -> [[UInt8]] {
        // Microseconds, at least 1 (rates above 1,000,000 a second are rounded to it).
        let interval = max(1, (b.interval + 500) / 1000)
        return [Array(String(interval).utf8), Array(String(interval * UInt64(b.capacity)).utf8),
                Array(String(maxDelay / 1000).utf8)]
    }

    /// The script's reply as a decision (nanoseconds); nil when the reply is not the script's.
    public static func decision(_ reply: RESPValue) -> TokenBucket.Decision? {
        guard case .array(let items?) = reply, items.count == 3, case .integer(let code) = items[0],
              case .integer(let a) = items[1], case .integer(let full) = items[2], a >= 0, full >= 0
        else { return nil }
        let fullAfter = UInt64(full) * 1000
        switch code {
        case 1: return .init(outcome: .admitted, newTAT: 0, remaining: Int(a), retryAfter: 0, fullAfter: fullAfter)
        case 2: return .init(outcome: .delayed(nanoseconds: UInt64(a) * 1000), newTAT: 0, remaining: 0, retryAfter: 0, fullAfter: fullAfter)
        case 0: return .init(outcome: .limited, newTAT: nil, remaining: 0, retryAfter: UInt64(a) * 1000, fullAfter: fullAfter)
        default: return nil
        }
    }
}
