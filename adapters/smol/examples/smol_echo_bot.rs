//! An echo bot: answers every chat message with its own body.
//!
//! ```sh
//! XMPP_JID=bot@example.com XMPP_PASSWORD=secret cargo run -p sxmpp-smol --example smol_echo_bot
//! # against a server from interop/peer.sh:
//! . $W/peer.env; XMPP_JID=alice@localhost XMPP_PASSWORD=alicepass cargo run -p sxmpp-smol --example smol_echo_bot
//! ```

use sxmpp::connection::Event;
use sxmpp::stanza::{Message, MessageType, Presence, Stanza};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(async {
        let (config, options) = sxmpp_net::from_env()?;
        let mut client = sxmpp_smol::connect_with(config, options).await?;
        println!("online as {}", client.jid().map(|j| j.to_string()).unwrap_or_default());
        client.send(Presence::available()).await?;
        while let Some(event) = client.next_event().await? {
            if let Event::Stanza(Stanza::Message(message)) = event
                && message.type_() == MessageType::Chat
                && let (Some(from), Some(body)) = (message.from(), message.body())
            {
                println!("echo to {from}: {body}");
                client.send(Message::chat(from.clone(), &body)?).await?;
            }
        }
        Ok(())
    })
}
