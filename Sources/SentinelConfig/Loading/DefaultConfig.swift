/// The configuration used when neither `--config` nor `SENTINEL_CONFIG` is given.
/// It is byte for byte config/sentinel.kdl (a test keeps the two identical).
public enum DefaultConfig {
    public static let text = #"""
// Sentinel: the bundled default configuration.
//
// It serves a welcome page and the builtin health, status and metrics endpoints, with no
// backend needed. It listens on the loopback interface only; change the address to
// "0.0.0.0:8080" to accept clients from other machines.
//
// Check a configuration with:  sentinel test --config FILE
// Reference: docs/configuration.md

schema-version "1.0"

system {
    worker-threads 0                   // one event loop per CPU core
    max-connections 10000
    graceful-shutdown-timeout-secs 30
}

listeners {
    listener "http" {
        address "127.0.0.1:8080"
        protocol "http"
        request-timeout-secs 60
        keepalive-timeout-secs 75
    }
}

routes {
    route "welcome" {
        priority "low"
        matches { path "/" }
        builtin-handler "welcome"
    }
    route "health" {
        priority "high"
        matches {
            path "/health"
            path "/healthz"
            path "/ready"
        }
        builtin-handler "health"
    }
    route "status" {
        priority "high"
        matches { path "/status" }
        builtin-handler "status"
    }
    route "metrics" {
        priority "high"
        matches { path "/metrics" }
        builtin-handler "metrics"
    }
    route "config" {
        priority "high"
        matches { path "/admin/config" }
        builtin-handler "config"
    }
}

limits {
    max-header-size-bytes 8192
    max-header-count 100
    max-body-size-bytes 1048576
}

"""#
}
