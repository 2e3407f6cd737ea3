import SentinelTestSupport

/// A configuration that writes every block the data plane supports, so `SchemaReachTests`
/// reaches every key of the supported schema. It must load without a diagnostic; a proxy route
/// comes before builtin routes so route keys are probed where they can take effect.
enum SchemaCoverage {
    /// Certificates, keys, a client CA with its CRL and an OCSP response for the HTTPS
    /// listener, generated once per test run.
    static let fx = HTTPSFixtures.shared
    static let mx = MTLSFixtures.shared

    static let text = #"""
    schema-version "1.0"
    system {
        worker-threads 1
        max-connections 5000
        graceful-shutdown-timeout-secs 10
        trace-id-format "tinyflake"
        route-cache-size 100
        via "edge"
        trusted-proxies "10.0.0.0/8" "192.0.2.7"
    }
    listeners {
        listener "http" {
            address "127.0.0.1:18080"
            protocol "http"
            request-timeout-secs 30
            keepalive-timeout-secs 60
            keepalive-max-requests 100
            default-route "fallback"
        }
        listener "ns" {
            address "127.0.0.1:18081"
            namespace "shop"
        }
        listener "mobile" {
            address "127.0.0.1:18083"
            proxy-protocol #true
        }
        listener "tls" {
            address "127.0.0.1:18443"
            protocol "https"
            hsts {
                max-age-secs 31536000
                include-subdomains #true
                preload #false
            }
            tls {
                cert-file "\#(fx.path("default.pem"))"
                key-file "\#(fx.path("default.key"))"
                ca-file "\#(mx.path("cca.pem"))"
                client-auth "optional"
                crl-file "\#(mx.path("cca.crl"))"
                verify-depth 4
                min-version "TLS1.2"
                max-version "TLS1.3"
                cipher-suites "TLS_AES_128_GCM_SHA256" "ECDHE-ECDSA-AES128-GCM-SHA256"
                session-resumption #true
                sni {
                    hostnames "a.test"
                    cert-file "\#(fx.path("a.pem"))"
                    key-file "\#(fx.path("a.key"))"
                    ocsp-file "\#(mx.path("a.ocsp.der"))"
                }
            }
        }
        listener "to-https" {
            address "127.0.0.1:18084"
            redirect-to-https {
                port 8443
                host "www.example.com"
            }
        }
    }
    routes {
        route "api" {
            priority 100
            matches {
                path-prefix "/api"
                host "api.example.com"
                header "X-Api" "1"
                method "GET" "POST"
                query-param "v" "2"
            }
            upstream "api"
            websocket #true
            filters "agent-check"
            policies {
                max-body-size 1048576
                rate-limit {
                    requests-per-second 100
                    burst 20
                    key "client-ip"
                }
                request-headers {
                    rename { X-Old "X-New" }
                    set { X-Set "1"; X-Client-Subject "{tls_client_subject}" }
                    add { X-Add "1" }
                    remove "X-Remove"
                }
                response-headers {
                    rename { X-Up "X-Down" }
                    set { X-Frame-Options "DENY" }
                    add { X-Served "1" }
                    remove "Server"
                }
            }
            retry-policy {
                max-attempts 2
                backoff-base-ms 50
                backoff-max-ms 500
                retryable-status-codes 502 503
            }
            fallback {
                max-attempts 2
                triggers {
                    on-health-failure #true
                    on-connection-error #true
                    on-error-codes 503
                }
                fallback-upstream "spare" {
                    skip-if-unhealthy #false
                }
            }
        }
        route "exact" {
            matches { path "/exact"; path-regex "^/re/[0-9]+$" }
            upstream "spare"
        }
        route "fallback" {
            priority "low"
            matches { path-prefix "/" }
            builtin-handler "not-found"
        }
        route "health" {
            matches { path "/health" }
            builtin-handler "health"
        }
    }
    upstreams {
        upstream "api" {
            target "127.0.0.1:9001" weight=2 zone="a"
            target address="127.0.0.1:9002" weight=1
            load-balancing "consistent_hash" {
                hash-key "header:X-User"
                load-factor 1.5
                virtual-nodes 100
            }
            health-check {
                type "http" {
                    path "/healthz"
                    expected-status 204
                    host "api.internal"
                }
                interval-secs 5
                timeout-secs 2
                healthy-threshold 2
                unhealthy-threshold 3
            }
            connection-pool {
                max-connections 50
                max-idle 10
                idle-timeout 30
                max-lifetime 300
            }
            timeouts {
                connect 2
                request 30
                read 10
                write 10
            }
            circuit-breaker {
                failure-threshold 4
                success-threshold 2
                timeout-seconds 20
                half-open-max-requests 1
            }
            passive-health {
                window 50
                failure-rate 0.4
                min-requests 5
                ejection-time-secs 20
            }
        }
        upstream "spare" {
            targets {
                target {
                    address "127.0.0.1:9003"
                    weight 2
                    metadata { zone "b" }
                }
                target address="127.0.0.1:9008" weight=2 zone="b"
            }
            load-balancing "sticky" {
                cookie-name "SID"
                cookie-ttl 600
                cookie-path "/app"
                cookie-secure #true
                cookie-same-site "strict"
                cookie-secret "s3cret"
                fallback "random"
            }
        }
        upstream "zoned" {
            target "127.0.0.1:9004" { metadata { zone "c" } }
            load-balancing "locality_aware" {
                local-zone "a"
                zone-priority "b" "c"
                fallback "round_robin"
            }
        }
        upstream "p2c" {
            target "127.0.0.1:9005"
            load-balancing "power_of_two_choices" {
                load-metric "connections"
                choices 2
            }
            health-check {
                type "grpc" {
                    service "svc"
                    host "grpc.internal"
                }
            }
        }
        upstream "single" { address "127.0.0.1:9007" }
        upstream "secure" {
            target "127.0.0.1:9443"
            tls {
                sni "secure.internal"
                ca-cert "\#(fx.path("root.pem"))"
                client-cert "\#(fx.path("client.pem"))"
                client-key "\#(fx.path("client.key"))"
            }
        }
        upstream "lax" {
            target "127.0.0.1:9444"
            tls { insecure-skip-verify #true }
        }
        upstream "subset" {
            target "127.0.0.1:9006"
            load-balancing "deterministic_subset" { subset-size 5 }
            health-check { type "tcp" }
        }
    }
    limits {
        max-header-size-bytes 16384
        max-header-count 50
        max-header-name-bytes 128
        max-header-value-bytes 2048
        max-uri-length-bytes 4096
        max-body-size-bytes 2097152
        max-total-connections 4000
        max-tls-handshakes 256
    }
    observability {
        metrics {
            enabled #true
            address "127.0.0.1:19090"
            path "/metrics"
        }
        logging {
            level "info"
            format "json"
            timestamps #true
            access-log {
                enabled #true
                file "/tmp/sentinel-probe-access.log"
                format "json"
                buffer-size 4096
                include-trace-id #true
                sample-rate 0.5
                sample-errors-always #true
            }
        }
    }
    filters {
        filter "agent-check" {
            type "agent"
            agent "auth"
        }
    }
    agents {
        agent "auth" {
            unix-socket "/run/sentinel/auth.sock"
            failure-mode "closed"
            command "/usr/bin/auth-agent" "--flag"
            restart-policy "always"
            restart-delay-ms 500
            max-restarts 3
            env { MODE "strict" }
            working-directory "/tmp"
            stop-timeout-ms 2000
        }
    }
    namespace "shop" {
        routes {
            route "cart" {
                matches { path-prefix "/cart" }
                upstream "cart"
                websocket #true
            }
            route "cart-health" {
                matches { path "/cart/health" }
                builtin-handler "health"
            }
            route "cart-status" {
                matches { path "/cart/status" }
                builtin-handler "status"
            }
        }
        upstreams { upstream "cart" { target "127.0.0.1:9101" } }
        service "checkout" {
            listeners { listener "pay" { address "127.0.0.1:18082" } }
            routes {
                route "pay" { matches { path-prefix "/pay" }; upstream "pay"; websocket #true }
                route "pay-health" { matches { path "/pay/health" }; builtin-handler "health" }
                route "pay-status" { matches { path "/pay/status" }; builtin-handler "status" }
            }
            upstreams { upstream "pay" { target "127.0.0.1:9102" } }
        }
        service "mobile" {
            listener "mobile"
            routes { route "m" { matches { path-prefix "/m" }; upstream "cart" } }
        }
        agents { agent "ns-agent" { unix-socket "/run/sentinel/ns.sock"; command "/usr/bin/ns-agent" } }
        exports {
            upstreams "cart"
            agents "ns-agent"
        }
    }
    namespace "blog" {
        routes { route "posts" { matches { path-prefix "/posts" }; upstream "shop:cart" } }
    }
    """#
}
