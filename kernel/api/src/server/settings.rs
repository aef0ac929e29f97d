//! The limits a connection lives under: how long it may take to send a request head, stay
//! idle, or send a body, and how many connections are open at once.

use std::time::Duration;

/// Connection limits of the HTTP server. The defaults suit a server facing browsers and
/// scripts directly; `erp serve` exposes them as flags.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Time from accepting a connection, or from the first byte of a later request, until its
    /// head (request line and headers) must be complete. Default 10 s.
    pub header_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request, and a client may accept no
    /// byte of an answer, before the connection is closed. Default 60 s.
    pub idle_timeout: Duration,
    /// Time a request body may take before the minimum rate applies. Default 10 s.
    pub body_grace: Duration,
    /// Bytes per second a request body must average once the grace is over. Default 1 KiB/s.
    pub body_min_rate: u64,
    /// Longest any request body may take, however fast it comes. Default 120 s.
    pub body_timeout: Duration,
    /// Connections open at once. When all are taken, a new connection closes the oldest one
    /// that is not serving a request; it waits only when every one is. Lowered at start to
    /// what the open-file limit allows. Default 4096.
    pub max_connections: usize,
    /// Reverse proxies whose `X-Forwarded-For` names the client. None by default.
    pub trusted_proxies: super::TrustedProxies,
}

/// Default of [`HttpSettings::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Open files kept free of connections: database connections (three files each for SQLite),
/// the listener, logs and plugin artifacts.
pub const RESERVED_FILES: u64 = 256;

/// The fewest connections served, whatever the file limit says.
const MIN_CONNECTIONS: usize = 16;

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_grace: Duration::from_secs(10),
            body_min_rate: 1024,
            body_timeout: Duration::from_secs(120),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            trusted_proxies: super::TrustedProxies::default(),
        }
    }
}

impl HttpSettings {
    /// The connection cap that fits under an open-file limit of `files` (`None`: unlimited).
    pub fn connection_cap(&self, files: Option<u64>) -> usize {
        let wanted = self.max_connections.max(1);
        match files {
            Some(files) => {
                let room = usize::try_from(files.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
                wanted.min(room.max(MIN_CONNECTIONS))
            }
            None => wanted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_stays_below_the_file_limit() {
        let s = HttpSettings::default();
        assert_eq!(s.connection_cap(Some(1024)), 1024 - 256);
        assert_eq!(s.connection_cap(Some(1 << 20)), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(s.connection_cap(None), DEFAULT_MAX_CONNECTIONS);
        assert_eq!(s.connection_cap(Some(100)), MIN_CONNECTIONS);
    }
}
