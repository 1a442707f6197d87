//! The target's client and server talking to each other, to make seeds
//! that reach deep states: what each side received, read by read, is a
//! ready-made input for the other side's target.

use arbitrary::{Arbitrary, Unstructured};
use sxmpp::jid::Jid;
use sxmpp::stanza::{Iq, Message, Presence, Stanza};
use sxmpp::xml::Element;

use crate::drive::Driver;
use crate::{client, server};

/// One conversation between the targets' client and server.
#[derive(Debug, Default)]
pub struct Conversation {
    /// What the server sent, one entry per read the client got.
    pub to_client: Vec<Vec<u8>>,
    /// What the client sent, one entry per read the server got.
    pub to_server: Vec<Vec<u8>>,
    /// Both sides got online.
    pub online: bool,
}

/// Runs a login (configurations decoded from the given bytes, as the
/// targets decode them), a few stanzas each way once online, and a close.
pub fn converse(client_config: &[u8], server_config: &[u8]) -> Conversation {
    let cc = client::Config::arbitrary(&mut Unstructured::new(client_config)).unwrap_or_default();
    let sc = server::Config::arbitrary(&mut Unstructured::new(server_config)).unwrap_or_default();
    let mut c = Driver::new(client::App::new(&cc), true);
    let mut s = Driver::new(server::App::new(&sc), true);
    if cc.tls % 4 == 3 && sc.tls % 4 == 3 {
        c.conn.client.tls_established(c.now, client::binding());
        s.conn.server.tls_established(s.now, client::binding());
        c.settle();
        s.settle();
    }
    let mut out = Conversation::default();
    let mut stanzas_sent = false;
    let mut closed = false;
    for _ in 0..64 {
        let moved = pump(&mut c, &mut s, &mut out);
        if c.conn.online && s.conn.session.is_some() && !stanzas_sent {
            stanzas_sent = true;
            out.online = true;
            let romeo = Jid::new("romeo@example.net/orchard").expect("valid");
            let hello = Message::chat(romeo.clone(), "Art thou not Romeo?").expect("legal text");
            let _ = c.conn.client.send_message(c.now, &hello);
            let _ = c.conn.client.send_presence(c.now, &Presence::available());
            let ping = Iq::get(Jid::new(server::DOMAIN).ok(), Element::new("ping", "urn:xmpp:ping"));
            let _ = c.conn.client.send_request(c.now, ping, core::time::Duration::from_secs(30));
            let reply = Message::chat(s.conn.session.clone().map(Jid::from).expect("online"), "Neither, fair saint")
                .expect("legal text")
                .with_from(romeo);
            let _ = s.conn.server.send(s.now, &Stanza::Message(reply));
            continue;
        }
        if !moved && stanzas_sent && !closed {
            closed = true;
            let _ = c.conn.client.close(c.now);
            continue;
        }
        if !moved {
            break;
        }
    }
    out
}

/// Moves each side's pending output to the other as one read; false if
/// nothing was pending.
fn pump(c: &mut Driver<client::App>, s: &mut Driver<server::App>, out: &mut Conversation) -> bool {
    let to_server = c.conn.client.pending_tx().to_vec();
    c.drain(to_server.len());
    if !to_server.is_empty() {
        s.read(&to_server);
        out.to_server.push(to_server.clone());
    }
    let to_client = s.conn.server.pending_tx().to_vec();
    s.drain(to_client.len());
    if !to_client.is_empty() {
        c.read(&to_client);
        out.to_client.push(to_client.clone());
    }
    !(to_server.is_empty() && to_client.is_empty())
}
