//! Sends one message and closes: `send_message TO BODY`.
//!
//! ```sh
//! XMPP_JID=juliet@example.com XMPP_PASSWORD=secret \
//!     cargo run -p sxmpp-async-std --example async_std_send_message -- romeo@example.net "Art thou not Romeo?"
//! ```

fn main() -> Result<(), Box<dyn std::error::Error>> {
    async_std::task::block_on(async {
        let mut args = std::env::args().skip(1);
        let (Some(to), Some(body)) = (args.next(), args.next()) else {
            return Err("usage: send_message TO BODY".into());
        };
        let (config, options) = sxmpp_net::from_env()?;
        let mut client = sxmpp_async_std::connect_with(config, options).await?;
        client.send(sxmpp::stanza::Message::chat(to.parse()?, &body)?).await?;
        client.close().await?;
        println!("sent");
        Ok(())
    })
}
