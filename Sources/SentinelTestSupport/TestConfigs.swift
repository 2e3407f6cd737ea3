/// Configuration texts the test targets share.
public enum TestConfigs {
    /// `system { worker-threads 1 }` and one HTTPS listener `id` on 127.0.0.1:0 serving
    /// `cert`/`key`, with `tls` inside its `tls` block and `listener` beside it; the caller
    /// appends upstreams and routes.
    public static func httpsListener(
        _ id: String = "tls", cert: String, key: String, tls: String = "", listener: String = ""
    ) -> String {
        """
        system { worker-threads 1 }
        listeners {
            listener "\(id)" {
                address "127.0.0.1:0"
                protocol "https"
                \(listener)
                tls {
                    cert-file "\(cert)"
                    key-file "\(key)"
                    \(tls)
                }
            }
        }

        """
    }
}
