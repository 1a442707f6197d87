//! A server started by `interop/peer.sh`, as its `peer.env` describes it.

use std::collections::HashMap;
use std::path::Path;

/// One running server.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    /// A label for reports: `prosody`, `ejabberd-sha512`…
    pub(crate) label: String,
    pub(crate) server: String,
    pub(crate) version: String,
    pub(crate) host: String,
    pub(crate) domain: String,
    pub(crate) starttls_port: u16,
    pub(crate) tls_port: u16,
    pub(crate) ca_cert: String,
    /// (bare JID, password), in order.
    pub(crate) users: Vec<(String, String)>,
}

impl Peer {
    /// Reads `label=path/to/peer.env`.
    pub(crate) fn load(spec: &str) -> Result<Peer, String> {
        let (label, path) = spec.split_once('=').ok_or_else(|| format!("--peer {spec}: want LABEL=PATH"))?;
        let text = std::fs::read_to_string(Path::new(path)).map_err(|e| format!("{path}: {e}"))?;
        let vars: HashMap<&str, &str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            .collect();
        let get = |k: &str| vars.get(k).map(|v| v.to_string()).ok_or_else(|| format!("{path}: no {k}"));
        let port = |k: &str| get(k)?.parse::<u16>().map_err(|e| format!("{path}: {k}: {e}"));
        let users = get("XMPP_USERS")?
            .split_whitespace()
            .filter_map(|u| u.split_once(':'))
            .map(|(j, p)| (j.to_string(), p.to_string()))
            .collect::<Vec<_>>();
        if users.len() < 2 {
            return Err(format!("{path}: need two users"));
        }
        Ok(Peer {
            label: label.to_string(),
            server: get("XMPP_SERVER")?,
            version: get("XMPP_SERVER_VERSION")?,
            host: get("XMPP_HOST")?,
            domain: get("XMPP_DOMAIN")?,
            starttls_port: port("XMPP_C2S_PORT")?,
            tls_port: port("XMPP_C2S_TLS_PORT")?,
            ca_cert: get("XMPP_CA_CERT")?,
            users,
        })
    }
}
