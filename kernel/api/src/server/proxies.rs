//! Reverse proxies the operator trusts: behind one, the client is the address the proxy put in
//! `X-Forwarded-For`, not the proxy. From anyone else the header is ignored, so a client cannot
//! pick the address that login throttling and the audit log see.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;

/// An address range: an address and how many leading bits of it count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    addr: IpAddr,
    bits: u8,
}

impl Range {
    fn parse(text: &str) -> Result<Range, String> {
        let (addr, bits) = match text.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| format!("{text:?} is not an IP address or range"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Range { addr, bits })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = (usize::from(bits / 8), bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

/// The trusted proxies; none by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Range>);

impl TrustedProxies {
    /// Parses addresses (`10.0.0.5`, `::1`) and ranges (`10.0.0.0/8`); blank entries are
    /// skipped.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<TrustedProxies, String> {
        entries
            .into_iter()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(Range::parse)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(ip))
    }

    /// The client of a request that came from `peer`: when `peer` is a trusted proxy, the
    /// rightmost address of `X-Forwarded-For` that is not itself a trusted proxy (the ones left
    /// of it were written by the client and prove nothing); otherwise `peer`.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if self.0.is_empty() || !self.trusts(peer.ip()) {
            return peer;
        }
        let mut hops: Vec<IpAddr> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            // Hop by hop: bytes that are no text in one hop (a client's) spoil only that hop.
            for hop in value.as_bytes().split(|b| *b == b',') {
                match std::str::from_utf8(hop).ok().and_then(parse_hop) {
                    Some(ip) => hops.push(ip),
                    // A hop that is no address: nothing left of it can be placed.
                    None => hops.clear(),
                }
            }
        }
        match hops.into_iter().rev().find(|ip| !self.trusts(*ip)) {
            Some(ip) => SocketAddr::new(ip.to_canonical(), 0),
            None => peer,
        }
    }
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1` or `[2001:db8::1]:80`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn at(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxies = TrustedProxies::parse(["127.0.0.1", "10.0.0.0/8", " ::1 "]).unwrap();
        let h = headers(&["203.0.113.9"]);
        assert_eq!(proxies.client(at("127.0.0.1"), &h).ip().to_string(), "203.0.113.9");
        assert_eq!(proxies.client(at("::1"), &h).ip().to_string(), "203.0.113.9");
        assert_eq!(proxies.client(at("198.51.100.7"), &h), at("198.51.100.7"), "an untrusted peer's header is ignored");
        assert_eq!(TrustedProxies::default().client(at("127.0.0.1"), &h), at("127.0.0.1"));
    }

    #[test]
    fn addresses_the_client_wrote_itself_do_not_count() {
        let proxies = TrustedProxies::parse(["127.0.0.1", "10.0.0.0/8"]).unwrap();
        // The client sent "1.1.1.1"; the outer proxy added the real client, the inner proxy
        // (10.1.2.3) added the outer proxy.
        let h = headers(&["1.1.1.1, 203.0.113.9", "10.1.2.3"]);
        assert_eq!(proxies.client(at("127.0.0.1"), &h).ip().to_string(), "203.0.113.9");
        let h = headers(&["garbage, 203.0.113.9:5555"]);
        assert_eq!(proxies.client(at("127.0.0.1"), &h).ip().to_string(), "203.0.113.9");
        let h = headers(&["203.0.113.9, garbage"]);
        assert_eq!(proxies.client(at("127.0.0.1"), &h), at("127.0.0.1"), "nothing placeable: the proxy itself");
        let mut h = HeaderMap::new();
        h.append("x-forwarded-for", HeaderValue::from_bytes(b"\x80\xff, 203.0.113.9").unwrap());
        assert_eq!(
            proxies.client(at("127.0.0.1"), &h).ip().to_string(),
            "203.0.113.9",
            "a hop of bytes spoils only itself"
        );
        let h = headers(&["[2001:db8::7]:443"]);
        assert_eq!(proxies.client(at("10.9.9.9"), &h).ip().to_string(), "2001:db8::7");
    }

    #[test]
    fn ranges_are_checked_by_prefix() {
        let p = TrustedProxies::parse(["192.168.4.0/22", "fd00::/8"]).unwrap();
        assert!(p.trusts("192.168.7.255".parse().unwrap()));
        assert!(!p.trusts("192.168.8.0".parse().unwrap()));
        assert!(p.trusts("fd12::1".parse().unwrap()));
        assert!(p.trusts("::ffff:192.168.5.1".parse::<IpAddr>().unwrap().to_canonical()));
        assert!(TrustedProxies::parse(["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(["proxy.local"]).is_err());
        assert_eq!(TrustedProxies::parse(["", " "]).unwrap(), TrustedProxies::default());
    }
}
