//! Which way an on-request capture goes: over this process's own DevTools inspector, or in-process
//! through V8's API. "auto" takes the inspector when this process has one that loopback reaches;
//! "devtools" insists (and fails clearly when there is none); "in-process" never uses it.
//! The inspector is reached on the loopback address of its family: 127.0.0.1, or ::1 for an
//! inspector bound to an IPv6 address (`--inspect=[::1]:0`); never another address.

use std::net::{IpAddr, Ipv4Addr};

use crate::options::{OptionError, Prop};

/// What the caller asked for (option `transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requested {
    Auto,
    Devtools,
    InProcess,
}

const NAMES: [(&str, Requested); 3] = [
    ("auto", Requested::Auto),
    ("devtools", Requested::Devtools),
    ("in-process", Requested::InProcess),
];

impl Requested {
    /// Option `transport`: absent means "auto".
    pub fn parse(value: &Prop) -> Result<Requested, OptionError> {
        match value {
            Prop::Undefined => Ok(Requested::Auto),
            Prop::String(s) => NAMES
                .iter()
                .find(|(name, _)| name == s)
                .map(|(_, r)| *r)
                .ok_or_else(|| invalid(value.describe())),
            other => Err(invalid(other.describe())),
        }
    }
}

fn invalid(got: String) -> OptionError {
    OptionError::Type {
        name: "option `transport`",
        expected: "one of \"auto\", \"devtools\", \"in-process\"",
        got,
    }
}

pub use oom_heapdump_devtools::Endpoint;

/// This process's inspector, from `inspector.url()` (`ws://127.0.0.1:9229/<target id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnInspector {
    /// Where it listens, as the URL says (`10.0.0.1:9229`).
    pub authority: String,
    /// Where loopback reaches it: ::1 when it is bound to `[::1]` or `[::]`, else 127.0.0.1.
    pub endpoint: Endpoint,
    pub id: String,
    /// True when loopback reaches it (bound to a loopback address or to every address).
    pub loopback: bool,
}

impl OwnInspector {
    pub fn parse(url: &str) -> Option<OwnInspector> {
        let rest = url.strip_prefix("ws://")?;
        let (authority, id) = rest.split_once('/')?;
        let (host, port) = authority.rsplit_once(':')?;
        let port = port.parse().ok().filter(|p| *p > 0)?;
        let ip = match host {
            "localhost" => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            h => h
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .ok(),
        };
        let reaching = ip.and_then(|ip| Endpoint::reaching(ip, port));
        Some(OwnInspector {
            authority: authority.to_owned(),
            // Off the loopback, it is not reached at all (`loopback` false): the endpoint is then
            // only what a message names.
            endpoint: reaching.unwrap_or_else(|| Endpoint::v4(port)),
            id: id.to_owned(),
            loopback: reaching.is_some(),
        })
    }
}

/// Where a capture goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Over the inspector at `endpoint`, target `id` (None: this process has no inspector, and the
    /// capture will say so).
    Devtools {
        endpoint: Endpoint,
        id: Option<String>,
    },
    InProcess,
}

/// Chooses the transport; `port` is the configured port, tried when this process has no inspector.
/// "devtools" with an inspector that loopback does not reach is an error: whatever listens on the
/// loopback port instead is not ours.
pub fn choose(
    requested: Requested,
    own: Option<&OwnInspector>,
    port: u16,
) -> Result<Transport, OptionError> {
    let over = |own: &OwnInspector| Transport::Devtools {
        endpoint: own.endpoint,
        id: Some(own.id.clone()),
    };
    Ok(match (requested, own) {
        (Requested::InProcess, _) => Transport::InProcess,
        (Requested::Devtools, Some(own)) if own.loopback => over(own),
        (Requested::Devtools, Some(own)) => {
            return Err(OptionError::InspectorNotOnLoopback(own.authority.clone()))
        }
        (Requested::Devtools, None) => Transport::Devtools {
            endpoint: Endpoint::v4(port),
            id: None,
        },
        (Requested::Auto, Some(own)) if own.loopback => over(own),
        (Requested::Auto, _) => Transport::InProcess,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspector_urls() {
        assert_eq!(
            OwnInspector::parse("ws://127.0.0.1:9229/0f2c-11"),
            Some(OwnInspector {
                authority: "127.0.0.1:9229".into(),
                endpoint: Endpoint::v4(9229),
                id: "0f2c-11".into(),
                loopback: true
            })
        );
        for (url, at) in [
            ("ws://[::1]:9230/x", "[::1]:9230"),
            ("ws://[::]:9230/x", "[::1]:9230"),
            ("ws://0.0.0.0:9230/x", "127.0.0.1:9230"),
            ("ws://localhost:9230/x", "127.0.0.1:9230"),
            ("ws://127.0.0.2:9230/x", "127.0.0.2:9230"),
        ] {
            let own = OwnInspector::parse(url).unwrap();
            assert!(own.loopback, "{url}");
            assert_eq!(own.endpoint.to_string(), at, "{url}");
        }
        assert_eq!(Endpoint::v6(1).to_string(), "[::1]:1");
        assert_eq!(Endpoint::v4(2).to_string(), "127.0.0.1:2");
        assert!(
            !OwnInspector::parse("ws://10.1.2.3:9230/x")
                .unwrap()
                .loopback
        );
        assert!(OwnInspector::parse("ws://[::1]:9230/x").unwrap().loopback);
        assert_eq!(OwnInspector::parse("http://127.0.0.1:9229/x"), None);
        assert_eq!(OwnInspector::parse("ws://127.0.0.1:0/x"), None);
    }

    #[test]
    fn auto_takes_a_loopback_inspector_else_in_process() {
        let own = OwnInspector::parse("ws://127.0.0.1:4000/id").unwrap();
        let far = OwnInspector::parse("ws://10.0.0.1:4000/id").unwrap();
        let devtools = Transport::Devtools {
            endpoint: Endpoint::v4(4000),
            id: Some("id".into()),
        };
        let choose = |r, own, port| choose(r, own, port).map_err(|e| e.to_string());
        assert_eq!(choose(Requested::Auto, Some(&own), 9229), Ok(devtools));
        assert_eq!(
            choose(Requested::Auto, Some(&far), 9229),
            Ok(Transport::InProcess)
        );
        assert_eq!(
            choose(Requested::Auto, None, 9229),
            Ok(Transport::InProcess)
        );
        assert_eq!(
            choose(Requested::Devtools, Some(&far), 9229),
            Err("option `transport` \"devtools\" reaches an inspector on loopback only, and this process's listens on 10.0.0.1:4000 (use \"in-process\", or --inspect=127.0.0.1:<port>)".into())
        );
        assert_eq!(
            choose(Requested::Devtools, None, 9229),
            Ok(Transport::Devtools {
                endpoint: Endpoint::v4(9229),
                id: None
            })
        );
        assert_eq!(
            choose(Requested::InProcess, Some(&own), 9229),
            Ok(Transport::InProcess)
        );
    }

    #[test]
    fn bad_transport_names_the_option_and_the_value() {
        assert_eq!(
            Requested::parse(&Prop::String("carrier-pigeon".into()))
                .unwrap_err()
                .to_string(),
            "option `transport` must be one of \"auto\", \"devtools\", \"in-process\", got \"carrier-pigeon\""
        );
        assert_eq!(
            Requested::parse(&Prop::String("in-process".into())),
            Ok(Requested::InProcess)
        );
        assert_eq!(Requested::parse(&Prop::Undefined), Ok(Requested::Auto));
        assert!(Requested::parse(&Prop::Number(1.0)).is_err());
    }
}
