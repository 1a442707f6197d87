//! The target's client and server talking to each other, to make seeds
//! that reach deep states: what each side received, read by read, is a
//! ready-made input for the other side's target.

use arbitrary::{Arbitrary, Unstructured};
use sxmpp::jid::Jid;
use sxmpp::stanza::{Iq, Message, Presence, Stanza};
use sxmpp::xml::Element;

use crate::client::ClientDriver;
use crate::server::ServerDriver;
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
    let mut c = client::App::driver(&cc, true);
    let mut s = server::App::driver(&sc, true);
    let mut out = Conversation::default();
    let mut stanzas_sent = false;
    let mut closed = false;
    for _ in 0..64 {
        let moved = pump(&mut c, &mut s, &mut out);
        if c.app.online && s.app.session.is_some() && !stanzas_sent {
            stanzas_sent = true;
            out.online = true;
            let romeo = Jid::new("romeo@example.net/orchard").expect("valid");
            let hello = Message::chat(romeo.clone(), "Art thou not Romeo?").expect("legal text");
            let _ = c.conn.send(c.now, hello);
            let _ = c.conn.send(c.now, Presence::available());
            let ping = Iq::get(Jid::new(server::DOMAIN).ok(), Element::new("ping", "urn:xmpp:ping"));
            let _ = c.conn.send_iq_with_timeout(c.now, ping, core::time::Duration::from_secs(30));
            let reply = Message::chat(s.app.session.clone().expect("online"), "Neither, fair saint")
                .expect("legal text")
                .with_from(romeo);
            let _ = s.conn.send(s.now, Stanza::Message(reply));
            c.settle();
            s.settle();
            continue;
        }
        if !moved && stanzas_sent && !closed {
            closed = true;
            let _ = c.conn.close(c.now);
            c.settle();
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
fn pump(c: &mut ClientDriver, s: &mut ServerDriver, out: &mut Conversation) -> bool {
    let to_server = c.pending().to_vec();
    c.drain(to_server.len());
    if !to_server.is_empty() {
        s.read(&to_server);
        out.to_server.push(to_server.clone());
    }
    let to_client = s.pending().to_vec();
    s.drain(to_client.len());
    if !to_client.is_empty() {
        c.read(&to_client);
        out.to_client.push(to_client.clone());
    }
    !(to_server.is_empty() && to_client.is_empty())
}

/// One conversation between the targets' component and component server:
/// the handshake, a stanza each way, a close.
pub fn converse_components(component_config: &[u8], server_config: &[u8]) -> Conversation {
    use crate::component::{Config, component_driver, server_driver};
    let cc = Config::arbitrary(&mut Unstructured::new(component_config)).unwrap_or_default();
    let sc = Config::arbitrary(&mut Unstructured::new(server_config)).unwrap_or_default();
    let mut c = component_driver(&cc, true);
    let mut s = server_driver(&sc, true);
    let mut out = Conversation::default();
    let (mut sent, mut closed) = (false, false);
    for _ in 0..64 {
        let mut moved = false;
        let to_server = c.pending().to_vec();
        c.drain(to_server.len());
        if !to_server.is_empty() {
            s.read(&to_server);
            out.to_server.push(to_server);
            moved = true;
        }
        let to_client = s.pending().to_vec();
        s.drain(to_client.len());
        if !to_client.is_empty() {
            c.read(&to_client);
            out.to_client.push(to_client);
            moved = true;
        }
        if c.conn.is_online() && s.conn.is_online() && !sent {
            sent = true;
            out.online = true;
            let juliet = Jid::new("juliet@capulet.lit").expect("valid");
            let hamlet = Jid::new("hamlet@plays.shakespeare.lit/stage").expect("valid");
            let up = Message::chat(juliet.clone(), "To be, or not to be").expect("legal").with_from(hamlet.clone());
            let _ = c.conn.send(c.now, up);
            let down = Message::chat(hamlet, "That is the question").expect("legal").with_from(juliet);
            let _ = s.conn.send(s.now, down);
            c.settle();
            s.settle();
        } else if !moved && sent && !closed {
            closed = true;
            let _ = c.conn.close(c.now);
            c.settle();
        } else if !moved {
            break;
        }
    }
    out
}
