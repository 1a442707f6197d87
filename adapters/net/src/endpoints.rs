//! Where to connect for a domain (RFC 6120 §3.2, XEP-0368): the
//! `_xmpps-client._tcp` (direct TLS) and `_xmpp-client._tcp` (STARTTLS)
//! SRV records merged into one order by priority and weight (RFC 2782),
//! the domain on 5222 when it publishes none, or the host the
//! application names; then each host's addresses in Happy Eyeballs order
//! (RFC 8305: families alternating, attempts staggered).
//!
//! Whatever host is reached, TLS verifies the JID's domain (the core's
//! `TlsSide::Client`), never the SRV target (HARDENING 12).

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

use crate::dns::{ResolveError, Resolver, SrvRecord};
use crate::tls::SystemRandom;

/// The wait before starting the next connection attempt while one is
/// still pending (RFC 8305 §5's recommended 250 ms).
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// The port without SRV records (RFC 6120 §3.2.1).
pub const DEFAULT_PORT: u16 = 5222;

/// How TLS starts on an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (XEP-0368, `_xmpps-client`).
    DirectTls,
    /// Plain TCP, upgraded with STARTTLS (`_xmpp-client`).
    StartTls,
}

/// One host to try.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The host name or address literal.
    pub host: String,
    /// The port.
    pub port: u16,
    /// How TLS starts there.
    pub security: Security,
}

/// The endpoints of `domain`, in the order to try them: an explicit
/// `host_override` alone, else SRV, else the domain on 5222.
pub fn plan(
    domain: &str,
    host_override: Option<&Endpoint>,
    resolver: &Resolver,
) -> Result<Vec<Endpoint>, ResolveError> {
    if let Some(endpoint) = host_override {
        return Ok(vec![endpoint.clone()]);
    }
    if domain.parse::<std::net::IpAddr>().is_ok() {
        return Ok(vec![Endpoint { host: domain.into(), port: DEFAULT_PORT, security: Security::StartTls }]);
    }
    // A domain that does not resolve for one service may for the other:
    // an error is only fatal when both lookups fail.
    let direct = resolver.lookup_srv(&format!("_xmpps-client._tcp.{domain}"));
    let starttls = resolver.lookup_srv(&format!("_xmpp-client._tcp.{domain}"));
    let (direct, starttls) = match (direct, starttls) {
        (Err(e), Err(_)) => return Err(e),
        (d, s) => (d.unwrap_or_default(), s.unwrap_or_default()),
    };
    let mut random = SystemRandom;
    order(domain, direct, starttls, &mut || random.next_u32())
}

/// Merges the two SRV sets: ascending priority, weighted random order
/// within a priority (RFC 2782; `random` draws the weights). With no
/// record at all the domain on 5222; with only "no service" records
/// ([`ResolveError::NoService`]).
pub fn order(
    domain: &str,
    direct: Vec<SrvRecord>,
    starttls: Vec<SrvRecord>,
    random: &mut dyn FnMut() -> u32,
) -> Result<Vec<Endpoint>, ResolveError> {
    if direct.is_empty() && starttls.is_empty() {
        return Ok(vec![Endpoint { host: domain.into(), port: DEFAULT_PORT, security: Security::StartTls }]);
    }
    let mut records: Vec<(SrvRecord, Security)> = direct
        .into_iter()
        .map(|r| (r, Security::DirectTls))
        .chain(starttls.into_iter().map(|r| (r, Security::StartTls)))
        .filter(|(r, _)| r.target != "." && !r.target.is_empty())
        .collect();
    if records.is_empty() {
        return Err(ResolveError::NoService);
    }
    // Stable: at equal priority and weight, direct TLS first.
    records.sort_by_key(|(r, _)| r.priority);
    let mut ordered = Vec::with_capacity(records.len());
    while !records.is_empty() {
        let priority = records[0].0.priority;
        let group_len = records.iter().take_while(|(r, _)| r.priority == priority).count();
        let mut group: Vec<_> = records.drain(..group_len).collect();
        // RFC 2782: zero weights first, then pick by running sums.
        group.sort_by_key(|(r, _)| r.weight != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|(r, _)| u32::from(r.weight)).sum();
            let pick = if total == 0 { 0 } else { random() % (total + 1) };
            let mut sum = 0;
            let at = group
                .iter()
                .position(|(r, _)| {
                    sum += u32::from(r.weight);
                    sum >= pick
                })
                .unwrap_or(0);
            let (record, security) = group.remove(at);
            ordered.push(Endpoint { host: record.target, port: record.port, security });
        }
    }
    Ok(ordered)
}

/// The addresses of an endpoint from the system resolver, in Happy
/// Eyeballs order (blocking: run it off the event loop).
pub fn addresses(endpoint: &Endpoint) -> Result<Vec<SocketAddr>, ResolveError> {
    let found = (endpoint.host.as_str(), endpoint.port)
        .to_socket_addrs()
        .map_err(|source| ResolveError::Host { host: endpoint.host.clone(), source })?;
    Ok(interleave(found.collect()))
}

/// RFC 8305 §4: alternate the address families, starting with the one
/// the system resolver put first (its RFC 6724 preference).
pub fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else { return addrs };
    let first_v6 = first.is_ipv6();
    let (mut preferred, mut other): (Vec<_>, Vec<_>) = addrs.into_iter().partition(|a| a.is_ipv6() == first_v6);
    let mut out = Vec::with_capacity(preferred.len() + other.len());
    preferred.reverse();
    other.reverse();
    loop {
        match (preferred.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// Happy Eyeballs (RFC 8305) for blocking code, with threads: the next address every [`ATTEMPT_DELAY`] while
/// earlier attempts are pending (at once when they failed); the first
/// connected wins.
pub fn connect_std(
    addrs: &[SocketAddr],
    timeout: Duration,
    failures: &mut Vec<(String, io::Error)>,
) -> Option<TcpStream> {
    let (done, results) = mpsc::channel();
    let (mut started, mut finished) = (0, 0);
    loop {
        // One attempt starts when none runs; more on the stagger below.
        if started < addrs.len() && started == finished {
            spawn_attempt(addrs[started], timeout, done.clone());
            started += 1;
        }
        let wait = if started < addrs.len() { ATTEMPT_DELAY } else { timeout + Duration::from_secs(1) };
        match results.recv_timeout(wait) {
            Ok((_, Ok(tcp))) => return Some(tcp),
            Ok((addr, Err(e))) => {
                failures.push((addr.to_string(), e));
                finished += 1;
                if finished == addrs.len() {
                    return None;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) if started < addrs.len() => {
                spawn_attempt(addrs[started], timeout, done.clone());
                started += 1;
            }
            Err(_) => return None,
        }
    }
}

fn spawn_attempt(addr: SocketAddr, timeout: Duration, done: mpsc::Sender<(SocketAddr, io::Result<TcpStream>)>) {
    std::thread::spawn(move || {
        let _ = done.send((addr, TcpStream::connect_timeout(&addr, timeout)));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord { priority, weight, port, target: target.into() }
    }

    #[test]
    fn no_records_fall_back_to_the_domain_on_5222() {
        let plan = order("example.com", vec![], vec![], &mut || 0).unwrap();
        assert_eq!(plan, vec![Endpoint { host: "example.com".into(), port: 5222, security: Security::StartTls }]);
    }

    #[test]
    fn both_services_merge_by_priority() {
        let direct = vec![srv(20, 0, 5223, "tls.example.com"), srv(5, 0, 443, "edge.example.com")];
        let starttls = vec![srv(10, 0, 5222, "xmpp.example.com")];
        let plan = order("example.com", direct, starttls, &mut || 0).unwrap();
        let hosts: Vec<_> = plan.iter().map(|e| (e.host.as_str(), e.port, e.security)).collect();
        assert_eq!(
            hosts,
            vec![
                ("edge.example.com", 443, Security::DirectTls),
                ("xmpp.example.com", 5222, Security::StartTls),
                ("tls.example.com", 5223, Security::DirectTls),
            ]
        );
    }

    #[test]
    fn weights_share_the_first_place_in_proportion() {
        let mut counter = 0u32;
        let mut firsts = std::collections::HashMap::new();
        for _ in 0..400 {
            let mut random = || {
                counter = counter.wrapping_mul(1_103_515_245).wrapping_add(12345);
                counter >> 8
            };
            let plan =
                order("d", vec![srv(1, 30, 1, "a")], vec![srv(1, 10, 2, "b"), srv(1, 0, 3, "c")], &mut random).unwrap();
            assert_eq!(plan.len(), 3);
            *firsts.entry(plan[0].host.clone()).or_insert(0) += 1;
        }
        let a = firsts.get("a").copied().unwrap_or(0);
        let b = firsts.get("b").copied().unwrap_or(0);
        // 30:10 with a zero-weight record rarely first.
        assert!(a > 2 * b && b > 0, "a={a} b={b} {firsts:?}");
    }

    #[test]
    fn dot_targets_mean_no_service() {
        assert!(matches!(
            order("d", vec![srv(0, 0, 0, ".")], vec![srv(0, 0, 0, ".")], &mut || 0),
            Err(ResolveError::NoService)
        ));
        // One service withdrawn, the other kept.
        let plan = order("d", vec![srv(0, 0, 0, ".")], vec![srv(0, 0, 5222, "x.d")], &mut || 0).unwrap();
        assert_eq!(plan, vec![Endpoint { host: "x.d".into(), port: 5222, security: Security::StartTls }]);
    }

    #[test]
    fn an_override_is_used_alone() {
        let endpoint = Endpoint { host: "127.0.0.1".into(), port: 15222, security: Security::DirectTls };
        let resolver = Resolver { nameservers: vec![], timeout: Duration::from_millis(1), attempts: 1 };
        assert_eq!(plan("example.com", Some(&endpoint), &resolver).unwrap(), vec![endpoint]);
    }

    #[test]
    fn happy_eyeballs_alternates_families_from_the_first() {
        let addrs: Vec<SocketAddr> =
            ["[::1]:1", "[::2]:1", "[::3]:1", "10.0.0.1:1", "10.0.0.2:1"].iter().map(|a| a.parse().unwrap()).collect();
        let order: Vec<String> = interleave(addrs).iter().map(|a| a.to_string()).collect();
        assert_eq!(order, ["[::1]:1", "10.0.0.1:1", "[::2]:1", "10.0.0.2:1", "[::3]:1"]);
        let v4_first: Vec<SocketAddr> = ["10.0.0.1:1", "[::1]:1"].iter().map(|a| a.parse().unwrap()).collect();
        assert_eq!(interleave(v4_first.clone()), v4_first);
    }

    #[test]
    fn blocking_happy_eyeballs_moves_past_a_refused_address() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut failures = Vec::new();
        let tcp = connect_std(&[closed, open.local_addr().unwrap()], Duration::from_secs(5), &mut failures).unwrap();
        assert_eq!(tcp.peer_addr().unwrap(), open.local_addr().unwrap());
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].1.kind(), io::ErrorKind::ConnectionRefused);
        let mut failures = Vec::new();
        assert!(connect_std(&[closed], Duration::from_secs(5), &mut failures).is_none());
        assert_eq!(failures.len(), 1);
    }

    /// The whole lookup against a name server on loopback: both services
    /// asked, merged.
    #[test]
    fn plan_asks_both_services() {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let mut buf = [0; 512];
                let (n, from) = udp.recv_from(&mut buf).unwrap();
                let question = String::from_utf8_lossy(&buf[12..n]).into_owned();
                let records: &[(u16, u16, u16, &str)] = if question.contains("xmpps") {
                    &[(5, 0, 5223, "direct.example.com")]
                } else {
                    &[(1, 0, 5222, "plain.example.com")]
                };
                udp.send_to(&crate::dns::tests::answer(&buf[..n], records, false), from).unwrap();
            }
        });
        let resolver = Resolver { nameservers: vec![addr], timeout: Duration::from_secs(5), attempts: 1 };
        let plan = plan("example.com", None, &resolver).unwrap();
        server.join().unwrap();
        assert_eq!(
            plan,
            vec![
                Endpoint { host: "plain.example.com".into(), port: 5222, security: Security::StartTls },
                Endpoint { host: "direct.example.com".into(), port: 5223, security: Security::DirectTls },
            ]
        );
    }
}
