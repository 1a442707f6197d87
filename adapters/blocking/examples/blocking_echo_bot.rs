//! An echo bot on blocking sockets: answers every chat message with its
//! own body.
//!
//! ```sh
//! XMPP_JID=bot@example.com XMPP_PASSWORD=secret cargo run -p sxmpp-blocking --example blocking_echo_bot
//! ```

use sxmpp::connection::Event;
use sxmpp::stanza::{Message, MessageType, Presence, Stanza};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (config, options) = sxmpp_net::from_env()?;
    let mut client = sxmpp_blocking::connect_with(config, options)?;
    println!("online as {}", client.jid().map(|j| j.to_string()).unwrap_or_default());
    client.send(Presence::available())?;
    while let Some(event) = client.next_event()? {
        if let Event::Stanza(Stanza::Message(message)) = event
            && message.type_() == MessageType::Chat
            && let (Some(from), Some(body)) = (message.from(), message.body())
        {
            println!("echo to {from}: {body}");
            client.send(Message::chat(from.clone(), &body)?)?;
        }
    }
    Ok(())
}
