//! Sends one message and closes, on blocking sockets: `send_message TO BODY`.
//!
//! ```sh
//! XMPP_JID=juliet@example.com XMPP_PASSWORD=secret \
//!     cargo run -p sxmpp-blocking --example blocking_send_message -- romeo@example.net "Art thou not Romeo?"
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(to), Some(body)) = (args.next(), args.next()) else {
        return Err("usage: send_message TO BODY".into());
    };
    let (config, options) = sxmpp_net::from_env()?;
    let mut client = sxmpp_blocking::connect_with(config, options)?;
    client.send(sxmpp::stanza::Message::chat(to.parse()?, &body)?)?;
    client.close()?;
    println!("sent");
    Ok(())
}
