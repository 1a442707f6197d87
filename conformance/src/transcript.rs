//! Reading `.xmpt` transcripts (see `conformance/FORMAT.md`).

use std::collections::BTreeMap;
use std::time::Duration;

/// A role the core can play in a transcript.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The initiating entity (`C:` lines are the core's).
    Client,
    /// The receiving entity (`S:` lines are the core's).
    Server,
}

impl Role {
    /// The side the core plays.
    pub fn side(self) -> Side {
        match self {
            Role::Client => Side::C,
            Role::Server => Side::S,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Client => "client",
            Role::Server => "server",
        })
    }
}

/// One end of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The client.
    C,
    /// The server.
    S,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// `C:`, `S:`, `C+:`, `S+:`, `E:` (an `S` step with `entity`),
    /// `C~:`, `S~:` (with `raw`).
    Data {
        /// Whose data it is.
        side: Side,
        /// `+`: sent through the application's API when it is the core's.
        api: bool,
        /// `E:`: a stanza from another entity.
        entity: bool,
        /// `~`: raw bytes, escapes resolved.
        raw: bool,
        /// The bytes (folded XML, or the raw bytes).
        bytes: Vec<u8>,
    },
    /// `TLS: <binding>`: both sides complete TLS.
    Tls(Vec<(String, Vec<u8>)>),
    /// `EOF: C|S`.
    Eof(Side),
    /// `TIME: +<seconds>`.
    Time(Duration),
    /// `EXPECT: <event> [args]`; `EXPECT.client:`/`EXPECT.server:` (an
    /// extension) apply in one role only.
    Expect(Vec<String>, Option<Role>),
    /// `NEVER: <local-name>`, with the same role extension.
    Never(String, Option<Role>),
}

/// A step and where it stands in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// 1-based line number of the step's tag.
    pub line: usize,
    /// The step as written (for reports).
    pub source: String,
    /// What it does.
    pub kind: StepKind,
}

/// A parsed transcript.
#[derive(Clone, Debug)]
pub struct Transcript {
    /// The case's name: the first comment line.
    pub name: String,
    /// The roles the core plays in replays.
    pub roles: Vec<Role>,
    /// `@key: value` settings; repeated keys accumulate.
    pub keys: BTreeMap<String, Vec<String>>,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// Keys a transcript may set: the standard ones of FORMAT.md and this
/// harness's documented extensions.
pub const KNOWN_KEYS: &[&str] = &[
    "roles",
    "client.jid",
    "client.password",
    "client.resource",
    "client.tls",
    "client.mechanisms",
    "client.channel-binding",
    "client.nonce",
    "client.ids",
    "server.domain",
    "server.user",
    "server.tls",
    "server.mechanisms",
    "server.stream-ids",
    "server.nonce",
    "server.salt",
    "server.iterations",
    "server.resource",
    // Extensions (FORMAT.md, "Extensions in this harness").
    "framing",
    "client.channel-binding-policy",
    "client.send-from",
    "client.iq-namespaces",
    "server.sasl-cb-types",
    "server.ssdp",
    "server.session",
    "server.invalid-from",
    "server.anonymous-user",
    "server.auth-failure",
    "server.bind-error",
    "server.gone-domains",
];

impl Transcript {
    /// A setting's single value.
    pub fn key(&self, key: &str) -> Option<&str> {
        self.keys.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    /// A setting's values, split on whitespace.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.keys
            .get(key)
            .map(|v| v.iter().flat_map(|s| s.split_whitespace()).map(String::from).collect())
            .unwrap_or_default()
    }

    /// The values of a setting that may be repeated (such as
    /// `server.user`), one per occurrence.
    pub fn all(&self, key: &str) -> &[String] {
        self.keys.get(key).map(Vec::as_slice).unwrap_or_default()
    }
}

/// Folds an XML step's continuation lines: line break plus indentation
/// become one space.
fn fold(first: &str, rest: &[&str]) -> String {
    let mut out = String::from(first.trim());
    for line in rest {
        let line = line.trim();
        if !line.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(line);
        }
    }
    out
}

/// Resolves the escapes of a raw step: `\n`, `\r`, `\t`, `\\`, `\xHH`.
fn unescape_raw(s: &str, line: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b't') => out.push(b'\t'),
            Some(b'\\') => out.push(b'\\'),
            Some(b'x') => {
                let hex = s.get(i + 2..i + 4).ok_or(format!("line {line}: truncated \\x escape"))?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("line {line}: bad \\x escape"))?);
                i += 2;
            }
            _ => return Err(format!("line {line}: unknown escape")),
        }
        i += 2;
    }
    Ok(out)
}

/// Parses a channel binding list: `none`, or `type=<base64>` items.
fn parse_binding(value: &str, line: usize) -> Result<Vec<(String, Vec<u8>)>, String> {
    use base64::Engine;
    let mut out = Vec::new();
    for item in value.split_whitespace() {
        if item == "none" {
            continue;
        }
        let (kind, data) = item.split_once('=').ok_or(format!("line {line}: bad TLS binding {item:?}"))?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| format!("line {line}: bad base64 in TLS binding"))?;
        out.push((kind.to_string(), data));
    }
    Ok(out)
}

/// The role a `.client`/`.server` tag suffix limits a step to.
fn tag_role(tag: &str) -> Option<Role> {
    match tag.rsplit_once('.') {
        Some((_, "client")) => Some(Role::Client),
        Some((_, "server")) => Some(Role::Server),
        _ => None,
    }
}

/// Parses a transcript.
pub fn parse(text: &str) -> Result<Transcript, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut name = None;
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let number = i + 1;
        i += 1;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if name.is_none() {
                name = Some(comment.trim().to_string());
            }
            continue;
        }
        if let Some(setting) = line.strip_prefix('@') {
            if !steps.is_empty() {
                return Err(format!("line {number}: settings must come before the first step"));
            }
            let (key, value) = setting.split_once(':').ok_or(format!("line {number}: expected @key: value"))?;
            let key = key.trim();
            if !KNOWN_KEYS.contains(&key) {
                return Err(format!("line {number}: unknown key @{key}"));
            }
            keys.entry(key.to_string()).or_default().push(value.trim().to_string());
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            return Err(format!("line {number}: continuation line without a step"));
        }
        let (tag, body) = line.split_once(':').ok_or(format!("line {number}: expected a step tag"))?;
        // Continuation lines begin with whitespace; blank lines and
        // comment lines between them are ignored, as everywhere.
        let mut continuation = Vec::new();
        let mut j = i;
        while j < lines.len() {
            let next = lines[j];
            if next.trim().is_empty() || next.starts_with('#') {
                j += 1;
            } else if next.starts_with(char::is_whitespace) {
                continuation.push(next);
                j += 1;
                i = j;
            } else {
                break;
            }
        }
        let folded = fold(body, &continuation);
        let data =
            |side, api, entity| StepKind::Data { side, api, entity, raw: false, bytes: folded.clone().into_bytes() };
        let kind = match tag {
            "C" => data(Side::C, false, false),
            "S" => data(Side::S, false, false),
            "C+" => data(Side::C, true, false),
            "S+" => data(Side::S, true, false),
            "E" => data(Side::S, false, true),
            "C~" | "S~" => {
                if !continuation.is_empty() {
                    return Err(format!("line {number}: raw steps are one line"));
                }
                let body = body.strip_prefix(' ').unwrap_or(body);
                let side = if tag == "C~" { Side::C } else { Side::S };
                StepKind::Data { side, api: false, entity: false, raw: true, bytes: unescape_raw(body, number)? }
            }
            "TLS" => StepKind::Tls(parse_binding(&folded, number)?),
            "EOF" => match folded.as_str() {
                "C" => StepKind::Eof(Side::C),
                "S" => StepKind::Eof(Side::S),
                _ => return Err(format!("line {number}: EOF: C or EOF: S")),
            },
            "TIME" => {
                let secs = folded.strip_prefix('+').and_then(|s| s.parse::<f64>().ok());
                let secs = secs.filter(|s| *s >= 0.0).ok_or(format!("line {number}: TIME: +<seconds>"))?;
                StepKind::Time(Duration::from_secs_f64(secs))
            }
            "EXPECT" | "EXPECT.client" | "EXPECT.server" => {
                StepKind::Expect(folded.split_whitespace().map(String::from).collect(), tag_role(tag))
            }
            "NEVER" | "NEVER.client" | "NEVER.server" => StepKind::Never(folded.clone(), tag_role(tag)),
            other => return Err(format!("line {number}: unknown step tag {other:?}")),
        };
        let mut source = String::from(line);
        for c in &continuation {
            source.push('\n');
            source.push_str(c);
        }
        steps.push(Step { line: number, source, kind });
    }
    let roles = match keys.get("roles") {
        None => vec![Role::Client, Role::Server],
        Some(v) => {
            let mut roles = Vec::new();
            for r in v.iter().flat_map(|s| s.split_whitespace()) {
                roles.push(match r {
                    "client" => Role::Client,
                    "server" => Role::Server,
                    other => return Err(format!("unknown role {other:?}")),
                });
            }
            roles
        }
    };
    Ok(Transcript { name: name.unwrap_or_default(), roles, keys, steps })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_settings_and_folding() {
        let t = parse(
            "# A case\n# source: test\n@roles: client\n@server.user: juliet pw\n@server.user: romeo pw2\n\nC: <stream:stream\n     to='x'>\nS~: <a>\\x00\\n\nTLS: tls-exporter=AAEC\nTIME: +1.5\nEXPECT: closed clean\nNEVER: auth\nEOF: S\n",
        )
        .unwrap();
        assert_eq!(t.name, "A case");
        assert_eq!(t.roles, [Role::Client]);
        assert_eq!(t.all("server.user"), ["juliet pw", "romeo pw2"]);
        assert_eq!(t.steps.len(), 7);
        assert!(matches!(&t.steps[0].kind, StepKind::Data { bytes, .. } if bytes == b"<stream:stream to='x'>"));
        assert!(matches!(&t.steps[1].kind, StepKind::Data { bytes, raw: true, .. } if bytes == b"<a>\x00\n"));
        assert_eq!(t.steps[2].kind, StepKind::Tls(vec![("tls-exporter".into(), vec![0, 1, 2])]));
        assert_eq!(t.steps[3].kind, StepKind::Time(Duration::from_millis(1500)));
        assert_eq!(t.steps[4].kind, StepKind::Expect(vec!["closed".into(), "clean".into()], None));
        assert_eq!(t.steps[6].kind, StepKind::Eof(Side::S));
    }

    /// FORMAT.md "Layout": blank lines and comment lines are ignored, also
    /// between the lines of one step; a step's body may start on the next
    /// line.
    #[test]
    fn blank_lines_and_comments_inside_a_step_are_ignored() {
        let t = parse("C:\n   <a\n\n     x='1'\n# a comment\n     y='2'/>\n\n# another\nS: <b/>\n").unwrap();
        assert_eq!(t.steps.len(), 2);
        assert!(matches!(&t.steps[0].kind, StepKind::Data { bytes, .. } if bytes == b"<a x='1' y='2'/>"));
        assert!(matches!(&t.steps[1].kind, StepKind::Data { bytes, .. } if bytes == b"<b/>"));
        assert_eq!(t.steps[1].line, 9);
    }

    #[test]
    fn mistakes_are_errors() {
        assert!(parse("@client.jdi: x\n").unwrap_err().contains("unknown key"));
        assert!(parse("C: <a/>\n@client.jid: x\n").unwrap_err().contains("before the first step"));
        assert!(parse("X: <a/>\n").unwrap_err().contains("unknown step tag"));
        assert!(parse("TIME: 5\n").is_err());
    }
}
