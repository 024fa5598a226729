//! Where an inspector is reached: a port on the IPv4 or the IPv6 loopback, never another address.

use std::fmt;

/// Where an inspector is reached: a port on the IPv4 or the IPv6 loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub port: u16,
    pub ipv6: bool,
}

impl Endpoint {
    /// `port` on 127.0.0.1.
    pub fn v4(port: u16) -> Endpoint {
        Endpoint { port, ipv6: false }
    }
}

impl fmt::Display for Endpoint {
    /// `127.0.0.1:9229` or `[::1]:9229`, as in URLs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.ipv6 { "[::1]" } else { "127.0.0.1" };
        write!(f, "{host}:{}", self.port)
    }
}
