//! DNS SRV lookups without an async runtime: a minimal stub resolver (one
//! question, UDP with a TCP retry when truncated) over the name servers
//! of `/etc/resolv.conf`, blocking, so each adapter runs it off its loop
//! (a blocking-pool thread) and none starts a hidden runtime. Addresses
//! of hosts come from the system's resolver (`getaddrinfo`).
//!
//! The message code is pure and bounded: names at most 255 bytes,
//! compression pointers followed at most 16 times, every length checked.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::Duration;

use crate::tls::SystemRandom;

/// One SRV record (RFC 2782).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share among records of one priority.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The host, without the trailing dot; `.` means "no service".
    pub target: String,
}

/// Why a lookup failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No name server answered in time.
    #[error("no answer from the name servers")]
    Timeout,
    /// A name server answered with an error code (2: server failure, 5:
    /// refused).
    #[error("the name server answered with error code {0}")]
    Server(u8),
    /// A name server's answer was malformed.
    #[error("malformed DNS answer: {0}")]
    Malformed(&'static str),
    /// The domain publishes SRV records saying it offers no XMPP service
    /// (target `.`, RFC 2782).
    #[error("the domain offers no XMPP service")]
    NoService,
    /// The name is not a valid DNS name.
    #[error("not a valid DNS name")]
    BadName,
    /// The host's addresses could not be resolved.
    #[error("no address for {host}: {source}")]
    Host {
        /// The host.
        host: String,
        /// The system resolver's error.
        source: io::Error,
    },
    /// A socket failed.
    #[error("DNS I/O: {0}")]
    Io(#[from] io::Error),
}

const TYPE_SRV: u16 = 33;
const CLASS_IN: u16 = 1;
const MAX_NAME: usize = 255;
const MAX_POINTERS: usize = 16;

/// A stub resolver: where to ask and how long to wait.
#[derive(Clone, Debug)]
pub struct Resolver {
    /// The name servers, tried in order.
    pub nameservers: Vec<SocketAddr>,
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// How many rounds over the name servers.
    pub attempts: usize,
}

impl Resolver {
    /// The system's name servers (`/etc/resolv.conf`), 127.0.0.1 when it
    /// names none.
    pub fn system() -> Resolver {
        let conf = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        Resolver::from_resolv_conf(&conf)
    }

    /// The name servers a `resolv.conf` text names.
    pub fn from_resolv_conf(conf: &str) -> Resolver {
        let mut nameservers: Vec<SocketAddr> = conf
            .lines()
            .filter_map(|line| line.trim().strip_prefix("nameserver"))
            .filter_map(|rest| rest.trim().split('%').next()?.parse::<IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect();
        if nameservers.is_empty() {
            nameservers.push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
        }
        Resolver { nameservers, timeout: Duration::from_secs(3), attempts: 2 }
    }

    /// The SRV records of `name` (empty when it has none or does not
    /// exist).
    pub fn lookup_srv(&self, name: &str) -> Result<Vec<SrvRecord>, ResolveError> {
        let mut random = SystemRandom;
        let mut last = ResolveError::Timeout;
        for _ in 0..self.attempts.max(1) {
            for server in &self.nameservers {
                let id = random.next_u32() as u16;
                let query = encode_query(id, name, TYPE_SRV)?;
                match self.ask_udp(*server, &query).and_then(|answer| parse_srv(id, name, &answer)) {
                    Ok(Answer { truncated: true, .. }) => {
                        match self.ask_tcp(*server, &query).and_then(|answer| parse_srv(id, name, &answer)) {
                            Ok(answer) => return Ok(answer.records),
                            Err(e) => last = e,
                        }
                    }
                    Ok(answer) => return Ok(answer.records),
                    // A name server that failed: try the next.
                    Err(e) => last = e,
                }
            }
        }
        Err(last)
    }

    fn ask_udp(&self, server: SocketAddr, query: &[u8]) -> Result<Vec<u8>, ResolveError> {
        let local: SocketAddr =
            if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().map_err(|_| ResolveError::BadName)?;
        let socket = UdpSocket::bind(local)?;
        // Connected: datagrams from anyone else are dropped by the kernel.
        socket.connect(server)?;
        socket.set_read_timeout(Some(self.timeout))?;
        socket.send(query)?;
        let mut buf = vec![0; 4096];
        match socket.recv(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                Ok(buf)
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                Err(ResolveError::Timeout)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn ask_tcp(&self, server: SocketAddr, query: &[u8]) -> Result<Vec<u8>, ResolveError> {
        let mut stream = TcpStream::connect_timeout(&server, self.timeout)?;
        stream.set_read_timeout(Some(self.timeout))?;
        stream.set_write_timeout(Some(self.timeout))?;
        let len = u16::try_from(query.len()).map_err(|_| ResolveError::BadName)?;
        stream.write_all(&len.to_be_bytes())?;
        stream.write_all(query)?;
        let mut len = [0; 2];
        stream.read_exact(&mut len)?;
        let mut answer = vec![0; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut answer)?;
        Ok(answer)
    }
}

/// A parsed answer.
#[derive(Debug)]
struct Answer {
    records: Vec<SrvRecord>,
    truncated: bool,
}

/// A query with one question, recursion desired.
fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, ResolveError> {
    let mut out = Vec::with_capacity(name.len() + 18);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    encode_name(&mut out, name)?;
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(out)
}

fn encode_name(out: &mut Vec<u8>, name: &str) -> Result<(), ResolveError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > MAX_NAME - 2 {
        return Err(ResolveError::BadName);
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 || !label.is_ascii() {
            return Err(ResolveError::BadName);
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

/// Parses an answer to our SRV question `id` for `name`: NXDOMAIN and an
/// empty answer are no records.
fn parse_srv(id: u16, name: &str, msg: &[u8]) -> Result<Answer, ResolveError> {
    let malformed = ResolveError::Malformed;
    if msg.len() < 12 {
        return Err(malformed("shorter than a header"));
    }
    let field = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]);
    if field(0) != id || msg[2] & 0x80 == 0 {
        return Err(malformed("not the answer to our question"));
    }
    let truncated = msg[2] & 0x02 != 0;
    let rcode = msg[3] & 0x0f;
    match rcode {
        0 => {}
        3 => return Ok(Answer { records: Vec::new(), truncated: false }),
        code => return Err(ResolveError::Server(code)),
    }
    let (questions, answers) = (field(4), field(6));
    if questions != 1 {
        return Err(malformed("not one question"));
    }
    let mut at = 12;
    let (question, next) = read_name(msg, at)?;
    if !question.eq_ignore_ascii_case(name.strip_suffix('.').unwrap_or(name)) {
        return Err(malformed("the question is not ours"));
    }
    at = next + 4;
    let mut records = Vec::new();
    for _ in 0..answers {
        let (_owner, next) = read_name(msg, at)?;
        let header = msg.get(next..next + 10).ok_or(malformed("truncated record"))?;
        let rtype = u16::from_be_bytes([header[0], header[1]]);
        let rdlen = usize::from(u16::from_be_bytes([header[8], header[9]]));
        let rdata_at = next + 10;
        let rdata = msg.get(rdata_at..rdata_at + rdlen).ok_or(malformed("truncated record data"))?;
        // CNAMEs and others in the answer are skipped: only SRV counts.
        if rtype == TYPE_SRV {
            if rdata.len() < 7 {
                return Err(malformed("short SRV record"));
            }
            let (target, _) = read_name(msg, rdata_at + 6)?;
            records.push(SrvRecord {
                priority: u16::from_be_bytes([rdata[0], rdata[1]]),
                weight: u16::from_be_bytes([rdata[2], rdata[3]]),
                port: u16::from_be_bytes([rdata[4], rdata[5]]),
                target: if target.is_empty() { ".".into() } else { target },
            });
        }
        at = rdata_at + rdlen;
    }
    Ok(Answer { records, truncated })
}

/// Reads a possibly compressed name at `at`: the name (dotted, no
/// trailing dot, empty for the root) and where the data after it starts.
fn read_name(msg: &[u8], mut at: usize) -> Result<(String, usize), ResolveError> {
    let malformed = ResolveError::Malformed;
    let mut name = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(at).ok_or(malformed("name runs past the end"))?;
        match len {
            0 => return Ok((name, end.unwrap_or(at + 1))),
            l if l & 0xc0 == 0xc0 => {
                let low = *msg.get(at + 1).ok_or(malformed("name runs past the end"))?;
                jumps += 1;
                if jumps > MAX_POINTERS {
                    return Err(malformed("compression loop"));
                }
                end.get_or_insert(at + 2);
                at = usize::from(u16::from_be_bytes([l & 0x3f, low]));
            }
            l if l & 0xc0 == 0 => {
                let label = msg.get(at + 1..at + 1 + usize::from(l)).ok_or(malformed("label runs past the end"))?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&String::from_utf8_lossy(label));
                if name.len() > MAX_NAME {
                    return Err(malformed("name too long"));
                }
                at += 1 + usize::from(l);
            }
            _ => return Err(malformed("unknown label type")),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An answer to `query` with these SRV records, the target names
    /// compressed against the question where they share its suffix.
    pub(crate) fn answer(query: &[u8], records: &[(u16, u16, u16, &str)], truncated: bool) -> Vec<u8> {
        let mut out = query.to_vec();
        out[2] = 0x81 | if truncated { 0x02 } else { 0 };
        out[3] = 0x80;
        out[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        for (priority, weight, port, target) in records {
            out.extend_from_slice(&[0xc0, 12]); // the owner: the question's name
            out.extend_from_slice(&TYPE_SRV.to_be_bytes());
            out.extend_from_slice(&CLASS_IN.to_be_bytes());
            out.extend_from_slice(&300u32.to_be_bytes());
            let mut rdata = Vec::new();
            rdata.extend_from_slice(&priority.to_be_bytes());
            rdata.extend_from_slice(&weight.to_be_bytes());
            rdata.extend_from_slice(&port.to_be_bytes());
            if *target == "." {
                rdata.push(0);
            } else {
                encode_name(&mut rdata, target).unwrap();
            }
            out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            out.extend_from_slice(&rdata);
        }
        out
    }

    #[test]
    fn a_query_is_one_question_for_srv() {
        let query = encode_query(0xabcd, "_xmpp-client._tcp.example.com", TYPE_SRV).unwrap();
        assert_eq!(&query[..4], &[0xab, 0xcd, 0x01, 0x00]);
        assert_eq!(&query[12..25], b"\x0c_xmpp-client");
        assert_eq!(&query[query.len() - 4..], &[0, 33, 0, 1]);
        assert!(matches!(encode_query(1, "a..b", TYPE_SRV), Err(ResolveError::BadName)));
        assert!(matches!(encode_query(1, &"a".repeat(64), TYPE_SRV), Err(ResolveError::BadName)));
    }

    #[test]
    fn answers_are_parsed_and_checked() {
        let name = "_xmpp-client._tcp.example.com";
        let query = encode_query(7, name, TYPE_SRV).unwrap();
        let reply = answer(&query, &[(10, 5, 5222, "xmpp1.example.com"), (20, 0, 5223, ".")], false);
        let parsed = parse_srv(7, name, &reply).unwrap();
        assert_eq!(
            parsed.records,
            vec![
                SrvRecord { priority: 10, weight: 5, port: 5222, target: "xmpp1.example.com".into() },
                SrvRecord { priority: 20, weight: 0, port: 5223, target: ".".into() },
            ]
        );
        // Another id, another question, NXDOMAIN, a server failure.
        assert!(matches!(parse_srv(8, name, &reply), Err(ResolveError::Malformed(_))));
        assert!(matches!(parse_srv(7, "_xmpp-client._tcp.example.org", &reply), Err(ResolveError::Malformed(_))));
        let mut nx = reply.clone();
        nx[3] = 0x83;
        assert!(parse_srv(7, name, &nx).unwrap().records.is_empty());
        let mut fail = reply.clone();
        fail[3] = 0x82;
        assert!(matches!(parse_srv(7, name, &fail), Err(ResolveError::Server(2))));
    }

    #[test]
    fn hostile_answers_fail_cleanly() {
        let name = "_xmpp-client._tcp.example.com";
        let query = encode_query(7, name, TYPE_SRV).unwrap();
        let reply = answer(&query, &[(10, 5, 5222, "xmpp1.example.com")], false);
        // Every truncation is an error, never a panic.
        for len in 0..reply.len() {
            assert!(parse_srv(7, name, &reply[..len]).is_err(), "length {len}");
        }
        // A pointer to itself.
        let mut looped = reply.clone();
        let target_at = looped.len() - 19;
        looped[target_at] = 0xc0;
        looped[target_at + 1] = target_at as u8;
        assert!(parse_srv(7, name, &looped).is_err());
        // Every single-byte corruption: no panic.
        for at in 0..reply.len() {
            let mut bad = reply.clone();
            bad[at] ^= 0xff;
            let _ = parse_srv(7, name, &bad);
        }
    }

    #[test]
    fn resolv_conf_name_servers() {
        let r =
            Resolver::from_resolv_conf("# c\nsearch x\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\nnameserver bad\n");
        assert_eq!(r.nameservers, vec!["10.0.0.1:53".parse().unwrap(), "[fe80::1]:53".parse().unwrap()]);
        assert_eq!(Resolver::from_resolv_conf("").nameservers, vec!["127.0.0.1:53".parse().unwrap()]);
    }

    /// A name server on loopback answering one UDP query (truncated) and
    /// its TCP retry.
    #[test]
    fn truncated_udp_answers_are_asked_again_over_tcp() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        let tcp = std::net::TcpListener::bind(addr).unwrap();
        let server = std::thread::spawn(move || {
            let mut buf = [0; 512];
            let (n, from) = udp.recv_from(&mut buf).unwrap();
            udp.send_to(&answer(&buf[..n], &[], true), from).unwrap();
            let (mut stream, _) = tcp.accept().unwrap();
            let mut len = [0; 2];
            stream.read_exact(&mut len).unwrap();
            let mut query = vec![0; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut query).unwrap();
            let reply = answer(&query, &[(0, 0, 5223, "tls.example.com")], false);
            stream.write_all(&(reply.len() as u16).to_be_bytes()).unwrap();
            stream.write_all(&reply).unwrap();
        });
        let resolver = Resolver { nameservers: vec![addr], timeout: Duration::from_secs(5), attempts: 1 };
        let records = resolver.lookup_srv("_xmpps-client._tcp.example.com").unwrap();
        server.join().unwrap();
        assert_eq!(records, vec![SrvRecord { priority: 0, weight: 0, port: 5223, target: "tls.example.com".into() }]);
    }

    #[test]
    fn a_silent_name_server_times_out() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let resolver =
            Resolver { nameservers: vec![udp.local_addr().unwrap()], timeout: Duration::from_millis(100), attempts: 1 };
        assert!(matches!(resolver.lookup_srv("_xmpp-client._tcp.example.com"), Err(ResolveError::Timeout)));
    }
}
