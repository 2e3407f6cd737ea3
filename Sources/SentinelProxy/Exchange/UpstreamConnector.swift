import NIOCore

/// How an exchange's upstream connections come into being: the upstream pool asks its
/// connector for a channel whenever it has no idle connection to reuse.
///
/// Production pools have none and open TCP sockets themselves (`UpstreamPool.openSocket`).
/// Tests inject one that hands out `EmbeddedChannel`s, so a whole exchange (pooling, retries,
/// framing, the downstream seam) runs without sockets or threads.
protocol UpstreamConnector: AnyObject {
    /// A channel to `address`, opened on `eventLoop`, with `handler` as the last handler of its
    /// pipeline (the pool reads and writes through it). The future fails with
    /// `ChannelError.connectTimeout` when `limits.connectTimeout` passes, and with any other
    /// error when the connection is refused.
    func connect(
        to address: UpstreamAddress, limits: UpstreamPool.Limits, eventLoop: any EventLoop, handler: UpstreamChannelHandler
    ) -> EventLoopFuture<any Channel>
}
