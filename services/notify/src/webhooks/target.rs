//! Where a webhook may be sent: an `https` URL whose host resolves only to public addresses —
//! never loopback, private (RFC 1918, unique-local), link-local (cloud metadata services live
//! there), carrier-grade NAT, multicast, unspecified or documentation ranges — unless the
//! operator allows private targets (`services.notify.webhooks.allow_private_targets`, which the
//! tests set, and a county whose agencies sit on its own network may). Checked when an endpoint
//! is saved and again at every send, since a name may resolve elsewhere later.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("not a URL: {0}")]
    NotAUrl(String),
    #[error("must be an https:// URL")]
    NotHttps,
    #[error("{0} resolves to {1}, which is not a public address")]
    NotPublic(String, IpAddr),
    #[error("{0} does not resolve: {1}")]
    Unresolved(String, String),
}

/// Whether `ip` is an address on the public internet.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // 0.0.0.0/8, carrier-grade NAT 100.64.0.0/10, benchmarking 198.18.0.0/15, 240.0.0.0/4.
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique-local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// Checks `url` and resolves its host; the addresses it may be sent to.
pub async fn check(url: &str, allow_private: bool) -> Result<Vec<SocketAddr>, Refused> {
    let parsed = reqwest::Url::parse(url).map_err(|error| Refused::NotAUrl(error.to_string()))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(Refused::NotHttps),
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| Refused::NotAUrl("no host".to_owned()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|error| Refused::Unresolved(host.clone(), error.to_string()))?
        .collect();
    if addresses.is_empty() {
        return Err(Refused::Unresolved(host, "no address".to_owned()));
    }
    if !allow_private && let Some(inside) = addresses.iter().find(|a| !public(a.ip())) {
        return Err(Refused::NotPublic(host, inside.ip()));
    }
    Ok(addresses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for inside in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(
                !public(inside.parse().unwrap()),
                "{inside} counted as public"
            );
        }
        for outside in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(
                public(outside.parse().unwrap()),
                "{outside} counted as private"
            );
        }
    }

    #[tokio::test]
    async fn loopback_and_plain_http_are_refused_unless_private_targets_are_allowed() {
        assert_eq!(
            check("http://example.org/hook", false).await,
            Err(Refused::NotHttps)
        );
        assert!(matches!(
            check("https://127.0.0.1:8443/hook", false).await,
            Err(Refused::NotPublic(_, _))
        ));
        assert!(matches!(
            check("https://[::1]/hook", false).await,
            Err(Refused::NotPublic(_, _))
        ));
        assert!(matches!(
            check("https://localhost/hook", false).await,
            Err(Refused::NotPublic(_, _))
        ));
        assert!(matches!(
            check("not a url", false).await,
            Err(Refused::NotAUrl(_))
        ));
        let allowed = check("http://127.0.0.1:8080/hook", true).await.unwrap();
        assert_eq!(allowed[0].port(), 8080);
    }
}
