//! Hosts outside the platform that a plugin may call: `scheme://host[:port]`, where the host
//! is a name (`api.telegram.org`), a wildcard over its subdomains (`*.example.com`) or an IP
//! address, and the port a number or `*` for any (a service on a port chosen at start). Plugins
//! declare them in `[[hosts]]`; an administrator grants them per company.

use std::fmt;

/// One declared or granted host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostPattern {
    /// `http` or `https`.
    pub scheme: String,
    /// Lower case; a leading `*.` matches any subdomain (not the bare domain).
    pub host: String,
    /// The port (the scheme's default when the pattern names none); `None` for `:*`, any.
    pub port: Option<u16>,
}

fn default_port(scheme: &str) -> u16 {
    if scheme == "https" { 443 } else { 80 }
}

fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

impl HostPattern {
    /// Parses `https://api.example.com`, `https://*.example.com:8443`, `http://127.0.0.1:9000`.
    /// A path, query, user name or anything but a host and port is refused.
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let text = text.trim();
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} must look like https://api.example.com (scheme and host)"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "https" && scheme != "http" {
            return Err(format!("{text:?}: only http and https are allowed"));
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) || rest.is_empty() {
            return Err(format!("{text:?} must name a host and optionally a port, nothing more"));
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or_else(|| format!("{text:?}: unclosed [ in the host"))?;
            (format!("[{}]", addr.to_ascii_lowercase()), after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_ascii_lowercase(), Some(p)),
                None => (rest.to_ascii_lowercase(), None),
            }
        };
        let port = match port {
            None => Some(default_port(&scheme)),
            Some("*") => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("{text:?}: bad port"))?),
        };
        let valid = if host.starts_with('[') {
            host[1..host.len() - 1].parse::<std::net::Ipv6Addr>().is_ok()
        } else {
            let name = host.strip_prefix("*.").unwrap_or(&host);
            match name.parse::<std::net::Ipv4Addr>() {
                Ok(_) => name == host,
                Err(_) => {
                    (name.len() <= 253 && name.contains('.') || name == "localhost")
                        && name.split('.').all(is_label)
                        && !name.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
                }
            }
        };
        if !valid {
            return Err(format!("{text:?}: {host:?} is not a host name, a *.domain wildcard or an IP address"));
        }
        Ok(HostPattern { scheme, host, port })
    }

    /// Whether a request to `scheme://host:port` falls under this pattern (`host` in lower
    /// case, an IPv6 address in brackets).
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if self.scheme != scheme || self.port.is_some_and(|p| p != port) {
            return false;
        }
        match self.host.strip_prefix("*.") {
            Some(domain) => {
                host.len() > domain.len() + 1 && host.ends_with(domain) && {
                    let cut = host.len() - domain.len();
                    host.as_bytes()[cut - 1] == b'.'
                }
            }
            None => self.host == host,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            None => write!(f, "{}://{}:*", self.scheme, self.host),
            Some(p) if p == default_port(&self.scheme) => write!(f, "{}://{}", self.scheme, self.host),
            Some(p) => write!(f, "{}://{}:{}", self.scheme, self.host, p),
        }
    }
}

/// The written form of a pattern as grants keep it (`https://API.example.com:443/` becomes
/// `https://api.example.com`).
pub fn normalize(text: &str) -> Result<String, String> {
    HostPattern::parse(text).map(|p| p.to_string())
}

/// Whether a grant string names a host (collections are `plugin.collection`).
pub fn is_host_grant(grant: &str) -> bool {
    grant.contains("://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_and_match() {
        let p = HostPattern::parse("https://api.telegram.org").expect("valid");
        assert!(p.matches("https", "api.telegram.org", 443));
        assert!(!p.matches("http", "api.telegram.org", 80));
        assert!(!p.matches("https", "api.telegram.org", 8443));
        assert!(!p.matches("https", "evil-api.telegram.org", 443));
        let w = HostPattern::parse("https://*.example.com:8443").expect("valid");
        assert!(w.matches("https", "a.example.com", 8443));
        assert!(w.matches("https", "a.b.example.com", 8443));
        assert!(!w.matches("https", "example.com", 8443));
        assert!(!w.matches("https", "badexample.com", 8443));
        assert!(!w.matches("https", "a.example.com", 443));
        assert_eq!(normalize("HTTPS://Api.Example.com:443/").expect("valid"), "https://api.example.com");
        assert_eq!(normalize("http://127.0.0.1:9000").expect("valid"), "http://127.0.0.1:9000");
        assert_eq!(normalize("http://[::1]:9000").expect("valid"), "http://[::1]:9000");
        let any = HostPattern::parse("http://127.0.0.1:*").expect("valid");
        assert!(any.matches("http", "127.0.0.1", 41234) && !any.matches("https", "127.0.0.1", 443));
        assert_eq!(any.to_string(), "http://127.0.0.1:*");
        for bad in [
            "api.example.com",
            "ftp://example.com",
            "https://example.com/path",
            "https://user@example.com",
            "https://*.com:0",
            "https://exa_mple.com",
            "https://*",
            "https://*.127.0.0.1",
            "https://example.com:99999",
            "https://[::1",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
