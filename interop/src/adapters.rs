//! The four adapters behind one interface, so every scenario is written
//! once. The blocking adapter's calls complete before their futures are
//! first polled; the async ones run on their own runtime's `block_on`.

use std::future::Future;
use std::time::Duration;

use sxmpp::connection::{ClientConfig, ClientRole, Event};
use sxmpp::session::{IqResponse, RequestId};
use sxmpp::stanza::{Iq, Stanza};
use sxmpp_futures_io::Runtime;
use sxmpp_net::{ConnectOptions, Error};

/// A logged-in client, whichever adapter.
#[allow(async_fn_in_trait)]
pub(crate) trait Session {
    async fn next_event_timeout(&mut self, timeout: Duration) -> Result<Option<Event>, Error>;
    async fn send(&mut self, stanza: Stanza) -> Result<(), Error>;
    async fn request(&mut self, iq: Iq) -> Result<IqResponse, Error>;
    fn send_iq(&mut self, iq: Iq) -> Result<RequestId, Error>;
    async fn flush(&mut self) -> Result<(), Error>;
    async fn response(&mut self, id: RequestId) -> Result<IqResponse, Error>;
    async fn close(self) -> Result<(), Error>;
    fn jid(&self) -> Option<sxmpp::jid::Jid>;
}

/// An adapter: how to connect and how to run its futures.
#[allow(async_fn_in_trait)]
pub(crate) trait Adapter {
    const NAME: &'static str;
    type Conn: Session;
    async fn connect(config: ClientConfig, options: ConnectOptions) -> Result<Self::Conn, Error>;
    fn block_on<F: Future>(future: F) -> F::Output;
}

impl<Rt: Runtime> Session for sxmpp_futures_io::Connection<ClientRole, Rt> {
    async fn next_event_timeout(&mut self, timeout: Duration) -> Result<Option<Event>, Error> {
        sxmpp_futures_io::Connection::next_event_timeout(self, timeout).await
    }
    async fn send(&mut self, stanza: Stanza) -> Result<(), Error> {
        sxmpp_futures_io::Connection::send(self, stanza).await
    }
    async fn request(&mut self, iq: Iq) -> Result<IqResponse, Error> {
        sxmpp_futures_io::Connection::request(self, iq).await
    }
    fn send_iq(&mut self, iq: Iq) -> Result<RequestId, Error> {
        Ok(self.core().send_iq(sxmpp_net::now(), iq)?)
    }
    async fn flush(&mut self) -> Result<(), Error> {
        sxmpp_futures_io::Connection::flush(self).await
    }
    async fn response(&mut self, id: RequestId) -> Result<IqResponse, Error> {
        sxmpp_futures_io::Connection::response(self, id).await
    }
    async fn close(self) -> Result<(), Error> {
        sxmpp_futures_io::Connection::close(self).await
    }
    fn jid(&self) -> Option<sxmpp::jid::Jid> {
        sxmpp_futures_io::Connection::jid(self).and_then(|j| j.as_str().parse().ok())
    }
}

impl Session for sxmpp_blocking::Client {
    async fn next_event_timeout(&mut self, timeout: Duration) -> Result<Option<Event>, Error> {
        sxmpp_blocking::Client::next_event_timeout(self, timeout)
    }
    async fn send(&mut self, stanza: Stanza) -> Result<(), Error> {
        sxmpp_blocking::Client::send(self, stanza)
    }
    async fn request(&mut self, iq: Iq) -> Result<IqResponse, Error> {
        sxmpp_blocking::Client::request(self, iq)
    }
    fn send_iq(&mut self, iq: Iq) -> Result<RequestId, Error> {
        Ok(self.core().send_iq(sxmpp_net::now(), iq)?)
    }
    async fn flush(&mut self) -> Result<(), Error> {
        sxmpp_blocking::Client::flush(self)
    }
    async fn response(&mut self, id: RequestId) -> Result<IqResponse, Error> {
        sxmpp_blocking::Client::response(self, id)
    }
    async fn close(self) -> Result<(), Error> {
        sxmpp_blocking::Client::close(self)
    }
    fn jid(&self) -> Option<sxmpp::jid::Jid> {
        sxmpp_blocking::Client::jid(self).and_then(|j| j.as_str().parse().ok())
    }
}

pub(crate) struct Tokio;
pub(crate) struct AsyncStd;
pub(crate) struct Smol;
pub(crate) struct Blocking;

impl Adapter for Tokio {
    const NAME: &'static str = "tokio";
    type Conn = sxmpp_tokio::Client;
    async fn connect(config: ClientConfig, options: ConnectOptions) -> Result<Self::Conn, Error> {
        sxmpp_tokio::connect_with(config, options).await
    }
    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime").block_on(future)
    }
}

impl Adapter for AsyncStd {
    const NAME: &'static str = "async-std";
    type Conn = sxmpp_async_std::Client;
    async fn connect(config: ClientConfig, options: ConnectOptions) -> Result<Self::Conn, Error> {
        sxmpp_async_std::connect_with(config, options).await
    }
    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }
}

impl Adapter for Smol {
    const NAME: &'static str = "smol";
    type Conn = sxmpp_smol::Client;
    async fn connect(config: ClientConfig, options: ConnectOptions) -> Result<Self::Conn, Error> {
        sxmpp_smol::connect_with(config, options).await
    }
    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }
}

impl Adapter for Blocking {
    const NAME: &'static str = "blocking";
    type Conn = sxmpp_blocking::Client;
    async fn connect(config: ClientConfig, options: ConnectOptions) -> Result<Self::Conn, Error> {
        sxmpp_blocking::connect_with(config, options)
    }
    fn block_on<F: Future>(future: F) -> F::Output {
        // Every future here completes on its first poll.
        smol::block_on(future)
    }
}
