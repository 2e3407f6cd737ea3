import SentinelConfig
import Testing

/// `system { data-path }`: NIO by default, the reactor on request, and what the reactor does not
/// carry yet refused at load, naming the listener or route.
@Suite struct DataPathConfigTests {
    private func config(_ dataPath: String, listeners: String? = nil, routes: String) -> String {
        """
        system { worker-threads 1; data-path "\(dataPath)" }
        listeners { \(listeners ?? #"listener "http" { address "127.0.0.1:0"; protocol "http" }"#) }
        upstreams { upstream "app" { target "127.0.0.1:9" } }
        routes {
        \(routes)
        }
        """
    }

    @Test func nioIsTheDefaultAndReactorIsAccepted() throws {
        #expect(valid(minimal())?.system.dataPath == .nio)
        let builtin = #"route "h" { matches { path "/health" }; builtin-handler "health" }"#
        #expect(valid(config("reactor", routes: builtin))?.system.dataPath == .reactor)
        // The same proxied route is fine on NIO.
        #expect(valid(config("nio", routes: #"route "p" { matches { path-prefix "/" }; upstream "app" }"#)) != nil)
    }

    @Test func anUnknownDataPathIsAnError() {
        let d = diagnostics(config("epoll", routes: #"route "h" { matches { path "/health" }; builtin-handler "health" }"#))
        #expect(d.count == 1)
        #expect(d.first?.message.contains("data-path") == true)
    }

    @Test func proxyingToAnAddressIsServedOnTheReactor() {
        #expect(valid(config("reactor", routes: #"route "p" { matches { path-prefix "/" }; upstream "app" }"#)) != nil)
    }

    @Test func whatTheReactorDoesNotCarryYetIsRefusedWhereItIsAsked() {
        let ws = diagnostics(config("reactor", routes: #"route "w" { matches { path "/ws" }; upstream "app"; websocket #true }"#))
        #expect(ws.map(\.message) == ["not supported yet: WebSocket upgrades with data-path \"reactor\""])
        #expect(ws.first?.location.line == 5)
        let named = """
            system { worker-threads 1; data-path "reactor" }
            listeners { listener "http" { address "127.0.0.1:0"; protocol "http" } }
            upstreams { upstream "app" { target "localhost:9" } }
            routes { route "p" { matches { path-prefix "/" }; upstream "app" } }
            """
        let d = diagnostics(named)
        #expect(d.map(\.message) == [
            "not supported yet: upstream targets given by name with data-path \"reactor\" (give an IP address)"
        ])
        #expect(d.first?.location.line == 3)
    }
}
