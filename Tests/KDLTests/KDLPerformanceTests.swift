import Foundation
import KDL
import Testing

/// Guards the parser's linear-time promise on a realistic large config: 10,000 routes
/// (about 3 MB). A quadratic slip (a rescan per node, a linear search per property) shows up
/// here as seconds instead of milliseconds.
@Suite struct KDLPerformanceTests {
    static func routes(_ count: Int) -> String {
        var text = "/- kdl-version 2\nroutes {\n"
        for i in 0..<count {
            text += """
                    route "route-\(i)" priority=\(i % 100) {
                        matches {
                            host "svc\(i).example.com"
                            path-prefix "/api/v\(i % 7)/items/\(i)/" // comment
                            method "GET" "POST"
                        }
                        upstream "backend-\(i % 50)" weight=0x1F
                        timeout connect=(duration)"2s" read=30.5 retry=#true
                        /- disabled #false
                    }

                """
        }
        return text + "}\n"
    }

    /// CPU time of the calling thread: unlike wall-clock time it does not grow when the
    /// (shared, often overloaded) machine makes this thread wait for a core.
    static func threadCPUTime() -> Duration {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return .seconds(ts.tv_sec) + .nanoseconds(ts.tv_nsec)
    }

    @Test func tenThousandRoutes() throws {
        let text = Self.routes(10_000)
        #expect(text.utf8.count > 2_500_000)
        var best = Duration.seconds(1000)
        for _ in 0..<5 {
            let start = Self.threadCPUTime()
            let document = try KDLParser.parse(text, file: "routes.kdl")
            best = min(best, Self.threadCPUTime() - start)
            #expect(document.nodes[0].children.count == 10_000)
            #expect(
                document.nodes[0].children[9_999].children[1].property("weight")?.value.numberValue?.int64Value == 31
            )
        }
        print("KDL: parsed \(text.utf8.count) bytes (10,000 routes) in \(best) of thread CPU time (best of 5)")
        #if DEBUG
            #expect(best < .seconds(10))
        #else
            #expect(best < .milliseconds(100), "10,000 routes took \(best)")
        #endif
    }
}
