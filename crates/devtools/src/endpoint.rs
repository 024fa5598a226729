//! Where an inspector is reached: a port on an IPv4 loopback address (127.0.0.0/8) or on the IPv6
//! loopback, never another address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// Where an inspector is reached: a port on a loopback address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub port: u16,
    host: Host,
}

/// The loopback address: one of 127.0.0.0/8, or ::1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Host {
    V4(Ipv4Addr),
    V6,
}

impl Endpoint {
    /// `port` on 127.0.0.1.
    pub fn v4(port: u16) -> Endpoint {
        Endpoint {
            port,
            host: Host::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// `port` on ::1.
    pub fn v6(port: u16) -> Endpoint {
        Endpoint {
            port,
            host: Host::V6,
        }
    }

    /// Where loopback reaches a socket bound to `ip`: that very address when it is a loopback
    /// address (an inspector bound to 127.0.0.2 is not reached on 127.0.0.1, where another process
    /// may listen), the loopback of its family when it is bound to every address; None otherwise.
    pub fn reaching(ip: IpAddr, port: u16) -> Option<Endpoint> {
        let ip = match ip {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
            v4 => v4,
        };
        match ip {
            IpAddr::V4(a) if a.is_loopback() => Some(Endpoint {
                port,
                host: Host::V4(a),
            }),
            IpAddr::V4(a) if a.is_unspecified() => Some(Endpoint::v4(port)),
            IpAddr::V6(a) if a.is_loopback() || a.is_unspecified() => Some(Endpoint::v6(port)),
            _ => None,
        }
    }
}

impl fmt::Display for Endpoint {
    /// `127.0.0.1:9229` or `[::1]:9229`, as in URLs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host {
            Host::V4(a) => write!(f, "{a}:{}", self.port),
            Host::V6 => write!(f, "[::1]:{}", self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_reaches_the_address_bound_or_the_loopback_of_every_address() {
        let at = |ip: &str| Endpoint::reaching(ip.parse().unwrap(), 9229).map(|e| e.to_string());
        assert_eq!(at("127.0.0.1").as_deref(), Some("127.0.0.1:9229"));
        assert_eq!(at("127.0.0.2").as_deref(), Some("127.0.0.2:9229"));
        assert_eq!(at("0.0.0.0").as_deref(), Some("127.0.0.1:9229"));
        assert_eq!(at("::1").as_deref(), Some("[::1]:9229"));
        assert_eq!(at("::").as_deref(), Some("[::1]:9229"));
        assert_eq!(at("::ffff:127.0.0.3").as_deref(), Some("127.0.0.3:9229"));
        assert_eq!(at("::ffff:0.0.0.0").as_deref(), Some("127.0.0.1:9229"));
        assert_eq!(at("10.0.0.5"), None);
        assert_eq!(at("fe80::1"), None);
    }
}
