//! `sxmpp`: XMPP from the command line, on the sxmpp adapters.
//!
//! ```sh
//! sxmpp demo                                   # a server and two clients, all in this process
//! sxmpp --jid juliet@example.com send romeo@example.net "Art thou not Romeo?"
//! sxmpp --jid alice@localhost --host 127.0.0.1:5222 --ca ca.pem roster
//! sxmpp serve --user alice:alicepass           # a test server on loopback
//! ```

mod demo;
mod status;

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use sxmpp::connection::{ClientConfig, Event};
use sxmpp::jid::Jid;
use sxmpp::sasl::Credentials;
use sxmpp::stanza::{Iq, Message, Stanza};
use sxmpp::xml::{Element, StreamEvent, StreamReader};
use sxmpp_net::{ConnectOptions, Console, Security};

/// XMPP from the command line.
#[derive(Parser, Debug)]
#[command(name = "sxmpp", version, about, long_about = None)]
struct Cli {
    /// Your account (or XMPP_JID).
    #[arg(long, global = true, env = "XMPP_JID")]
    jid: Option<String>,
    /// Your password (or XMPP_PASSWORD; asked for, unechoed, when neither is given).
    #[arg(long, global = true, env = "XMPP_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Connect to HOST:PORT instead of looking the domain up in DNS.
    #[arg(long, global = true, value_name = "HOST:PORT")]
    host: Option<String>,
    /// With --host: TLS from the first byte (XEP-0368) instead of STARTTLS.
    #[arg(long, global = true)]
    direct_tls: bool,
    /// Trust the CA certificates in this PEM file (besides the usual roots).
    #[arg(long, global = true, value_name = "FILE", env = "XMPP_CA_CERT")]
    ca: Option<String>,
    /// Show the XML both ways on stderr (credentials redacted).
    #[arg(long, global = true)]
    xml: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Send one chat message.
    Send {
        /// Who to send it to.
        to: String,
        /// What to say.
        text: String,
    },
    /// Ping an entity (XEP-0199; default: your server) and print the round trip.
    Ping {
        /// Who to ping.
        #[arg(value_name = "JID")]
        target: Option<String>,
    },
    /// Print your roster.
    Roster,
    /// An interactive XML console: type a stanza per line, see everything both ways.
    Console,
    /// Run a test server on loopback until interrupted.
    Serve {
        /// A user as NAME:PASSWORD (repeat for more).
        #[arg(long = "user", value_name = "NAME:PASSWORD", default_values_t = ["alice:alicepass".to_string(), "bob:bobpass".to_string()])]
        users: Vec<String>,
        /// Write the server's CA certificate here.
        #[arg(long, value_name = "FILE", default_value = "sxmpp-test-ca.pem")]
        ca_out: String,
        /// Do not offer SCRAM-*-PLUS (for clients that bind only with tls-unique, absent in TLS 1.3).
        #[arg(long)]
        no_channel_binding: bool,
        /// More users, one NAME:PASSWORD per line (for load tests).
        #[arg(long, value_name = "FILE")]
        users_file: Option<String>,
        /// Connections accepted at once (more are refused).
        #[arg(long, value_name = "N", default_value_t = 1000)]
        max_connections: usize,
    },
    /// A server and two clients (on two adapters) in this process: login, messages, a roster push, pings.
    Demo,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments").trim_start_matches("error: ");
            eprintln!("sxmpp: {first} (see sxmpp --help)");
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sxmpp: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn run(cli: Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match &cli.command {
        Command::Demo => return demo::run(),
        Command::Serve { users, users_file, ca_out, no_channel_binding, max_connections } => {
            let mut users = users.clone();
            if let Some(file) = users_file {
                let text = std::fs::read_to_string(file).map_err(|e| format!("--users-file {file}: {e}"))?;
                users.extend(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from));
            }
            return serve(&users, ca_out, !no_channel_binding, *max_connections);
        }
        _ => {}
    }
    let (config, options) = client_setup(&cli)?;
    let domain = config.jid.domain().to_owned();
    status::install();
    runtime.block_on(async {
        status(&format!("connecting as {}", config.jid));
        let started = Instant::now();
        let mut client = status::progress("connecting", sxmpp_tokio::connect_with(config, options)).await?;
        report_online(&mut client, started);
        match cli.command {
            Command::Send { to, text } => {
                let to = parse_jid(&to)?;
                client.send(Message::chat(to.clone(), &text)?).await?;
                status(&format!("sent to {to}"));
            }
            Command::Ping { target } => {
                let to = match target {
                    Some(jid) => parse_jid(&jid)?,
                    None => Jid::new(&domain)?,
                };
                let sent = Instant::now();
                let pong = status::progress(
                    "the pong",
                    client.request(Iq::get(Some(to.clone()), Element::new("ping", "urn:xmpp:ping"))),
                )
                .await?;
                match pong.result {
                    Ok(_) => println!("pong from {to} in {:.1} ms", sent.elapsed().as_secs_f64() * 1000.0),
                    Err(e) => return Err(format!("{to} answered with an error: {}", e.condition).into()),
                }
            }
            Command::Roster => {
                let answer = status::progress(
                    "the roster",
                    client.request(Iq::get(None, Element::new("query", "jabber:iq:roster"))),
                )
                .await?;
                let query = answer.result.map_err(|e| format!("roster refused: {}", e.condition))?;
                let items: Vec<&Element> = query.iter().flat_map(|q| q.children()).collect();
                if items.is_empty() {
                    println!("(empty roster)");
                }
                for item in items {
                    let name = item.attr("name").map(|n| format!(" ({n})")).unwrap_or_default();
                    println!(
                        "{}{name}  subscription={}",
                        item.attr("jid").unwrap_or("?"),
                        item.attr("subscription").unwrap_or("none")
                    );
                }
            }
            Command::Console => console(&mut client).await?,
            Command::Demo | Command::Serve { .. } => {}
        }
        client.close().await?;
        Ok(())
    })
}

fn parse_jid(text: &str) -> Result<Jid> {
    Jid::new(text).map_err(|e| format!("{text:?} is not a valid JID: {e}").into())
}

/// The account and how to reach it, from the flags and the environment.
fn client_setup(cli: &Cli) -> Result<(ClientConfig, ConnectOptions)> {
    let jid = cli.jid.as_deref().ok_or("no account: give --jid or set XMPP_JID")?;
    let jid = parse_jid(jid)?;
    let password = match &cli.password {
        Some(p) => p.clone(),
        None => prompt_password(&jid)?,
    };
    let config = ClientConfig::new(jid, Credentials::password(password));
    let mut options = ConnectOptions::default();
    if let Some(ca) = &cli.ca {
        options.tls.add_pem_file(ca).map_err(|e| format!("--ca {ca}: {e}"))?;
    }
    if let Some(host) = &cli.host {
        let (name, port) = host.rsplit_once(':').ok_or_else(|| format!("--host {host}: want HOST:PORT"))?;
        let port: u16 = port.parse().map_err(|_| format!("--host {host}: bad port"))?;
        let security = if cli.direct_tls { Security::DirectTls } else { Security::StartTls };
        options = options.endpoint(name.trim_matches(['[', ']']), port, security);
    }
    options.connect_timeout = Duration::from_secs(30);
    if cli.xml || matches!(cli.command, Command::Console) {
        options.console = Some(Console::stderr());
    }
    Ok((config, options))
}

/// Reads a password from the terminal without echoing it.
fn prompt_password(jid: &Jid) -> Result<String> {
    let no_terminal = "no password: give --password, set XMPP_PASSWORD, or run in a terminal";
    let mut tty = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty").map_err(|_| no_terminal)?;
    write!(tty, "password for {jid}: ")?;
    let echo = |on: bool| {
        let stdin = std::fs::File::open("/dev/tty").map(std::process::Stdio::from);
        if let Ok(stdin) = stdin {
            let _ = std::process::Command::new("stty").arg(if on { "echo" } else { "-echo" }).stdin(stdin).status();
        }
    };
    echo(false);
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    echo(true);
    writeln!(tty)?;
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// `SCRAM-SHA-256-PLUS, bound with tls-exporter`.
pub(crate) fn describe_auth(auth: &sxmpp::connection::Authenticated) -> String {
    use sxmpp::sasl::BindingOutcome;
    let binding = match auth.channel_binding {
        BindingOutcome::Bound(kind) => format!("bound to the channel with {}", kind.as_str()),
        BindingOutcome::NotOffered => "no channel binding (the server offers no -PLUS)".into(),
        BindingOutcome::NotSupported => "no channel binding (none available)".into(),
        other => format!("no channel binding ({other:?})"),
    };
    format!("{}, {binding}", auth.mechanism.as_str())
}

fn status(text: &str) {
    eprintln!("· {text}");
}

/// One status line with what was negotiated.
fn report_online(client: &mut sxmpp_tokio::Client, started: Instant) {
    let tls = client.core().tls().and_then(|t| t.version.clone()).unwrap_or_else(|| "no TLS".into());
    let mut auth = String::new();
    while let Some(event) = client.queued_event() {
        if let Event::Authenticated(a) = event {
            auth = describe_auth(&a);
        }
    }
    let jid = client.jid().map(|j| j.to_string()).unwrap_or_default();
    status(&format!("online as {jid} ({tls}, {auth}) after {:.0} ms", started.elapsed().as_secs_f64() * 1000.0));
}

/// Lines from stdin become stanzas; everything else shows on the console.
async fn console(client: &mut sxmpp_tokio::Client) -> Result<()> {
    use tokio::io::AsyncBufReadExt;
    status(
        "type one stanza per line (for example <message to='bob@localhost' type='chat'><body>hi</body></message>); end with Ctrl-D",
    );
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Some(line) = line? else { return Ok(()) };
                if line.trim().is_empty() {
                    continue;
                }
                match parse_stanza(&line) {
                    Ok(stanza) => client.send(stanza).await?,
                    Err(e) => status(&format!("not sent: {e}")),
                }
            }
            event = client.next_event() => {
                if event?.is_none() {
                    return Ok(());
                }
            }
        }
    }
}

/// One line of XML as a stanza, in the client namespace.
fn parse_stanza(line: &str) -> Result<Stanza> {
    let mut reader = StreamReader::new(sxmpp::xml::Limits::default());
    reader.feed(b"<stream xmlns='jabber:client'>");
    reader.feed(line.as_bytes());
    loop {
        match reader.next_event()? {
            Some(StreamEvent::Element(element)) => return Ok(Stanza::from_element(element)?),
            Some(_) => continue,
            None => return Err("incomplete XML".into()),
        }
    }
}

/// `sxmpp serve`: a test server until interrupted.
fn serve(users: &[String], ca_out: &str, channel_binding: bool, max_connections: usize) -> Result<()> {
    let mut limits = sxmpp_testserver::Limits::default();
    limits.max_connections = max_connections;
    let mut builder = sxmpp_testserver::TestServer::builder().channel_binding(channel_binding).limits(limits);
    for user in users {
        let (name, password) = user.split_once(':').ok_or_else(|| format!("--user {user}: want NAME:PASSWORD"))?;
        builder = builder.user(name, password);
    }
    let server = builder.start()?;
    std::fs::write(ca_out, server.ca_pem()).map_err(|e| format!("{ca_out}: {e}"))?;
    println!(
        "serving {} on {} (STARTTLS) and {} (direct TLS); CA in {ca_out}",
        server.domain(),
        server.starttls_addr(),
        server.direct_tls_addr()
    );
    println!(
        "try: sxmpp --jid {}@{} --host {} --ca {ca_out} ping",
        users[0].split(':').next().unwrap_or("alice"),
        server.domain(),
        server.starttls_addr()
    );
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
