//! `sxmpp-load`: many concurrent sessions against one XMPP server on
//! loopback, measured the same way whatever the server (the embedded test
//! server, Prosody, ejabberd); `bench/load.sh` starts each and runs this.
//!
//! ```text
//! sxmpp-load --host 127.0.0.1:PORT --domain localhost --ca ca.pem \
//!     --accounts-file users.txt --sessions 10000 [--pid SERVER_PID]
//! ```
//!
//! Phases, each timed, each with a deadline:
//! 1. `sessions` logins with the password (SCRAM-SHA-1, so the client runs
//!    PBKDF2 at the server's iteration count every time), at most
//!    `--concurrency` in flight; every session then stays online;
//! 2. the server's resident memory over its idle size, per session (from
//!    `/proc/PID/status`, the same measure for every server);
//! 3. messages: each session sends `--messages` chats to its partner's
//!    full JID and reads as many from it; time until every one arrived;
//! 4. every session closes, then as many log in again with the SCRAM keys
//!    the first login derived (no PBKDF2 on the client), and close.
//!
//! Prints one line of `key=value` results, for the script's table.

#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sxmpp::connection::{ClientConfig, Event};
use sxmpp::jid::Jid;
use sxmpp::sasl::{Credentials, Mechanism, ScramKeys};
use sxmpp::stanza::{Message, Stanza};
use sxmpp_net::{ConnectOptions, Security, TlsOptions};
use sxmpp_tokio::Client;
use tokio::sync::Semaphore;

/// What to run, from the command line.
struct Args {
    host: String,
    port: u16,
    domain: String,
    ca: String,
    accounts: Vec<(String, String)>,
    sessions: usize,
    concurrency: usize,
    messages: usize,
    pid: Option<u32>,
    deadline: Duration,
}

fn args() -> Result<Args, String> {
    let mut map: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let key = flag.strip_prefix("--").ok_or_else(|| format!("unexpected {flag:?}"))?.to_string();
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        map.insert(key, value);
    }
    let get = |k: &str| map.get(k).cloned().ok_or_else(|| format!("--{k} is required"));
    let num =
        |k: &str, default: usize| map.get(k).map_or(Ok(default), |v| v.parse().map_err(|_| format!("--{k}: {v}")));
    let host = get("host")?;
    let (name, port) = host.rsplit_once(':').ok_or("--host HOST:PORT")?;
    // NAME:PASSWORD, comma-separated (--accounts) or one per line
    // (--accounts-file); session i logs in as account i mod their number.
    let listed = match (map.get("accounts"), map.get("accounts-file")) {
        (Some(list), None) => list.replace(',', "\n"),
        (None, Some(file)) => std::fs::read_to_string(file).map_err(|e| format!("--accounts-file {file}: {e}"))?,
        _ => return Err("give --accounts or --accounts-file".into()),
    };
    let accounts = listed
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|a| a.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())).ok_or(format!("account {a:?}")))
        .collect::<Result<Vec<_>, _>>()?;
    if accounts.is_empty() {
        return Err("no accounts".into());
    }
    Ok(Args {
        host: name.to_string(),
        port: port.parse().map_err(|_| "--host: bad port")?,
        domain: get("domain")?,
        ca: get("ca")?,
        accounts,
        sessions: num("sessions", 10_000)?,
        concurrency: num("concurrency", 64)?,
        messages: num("messages", 10)?,
        pid: map.get("pid").map(|p| p.parse().map_err(|_| "--pid")).transpose()?,
        deadline: Duration::from_secs(num("deadline", 900)? as u64),
    })
}

/// The server's resident set, in bytes.
fn rss(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let kb: u64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Session `i`'s account and resource.
fn identity(args: &Args, i: usize) -> (usize, String) {
    let account = i % args.accounts.len();
    (account, format!("load{i}"))
}

/// The trusted CA, read once.
fn trust(args: &Args) -> Result<TlsOptions, String> {
    let mut options = ConnectOptions::default();
    options.tls.add_pem_file(&args.ca).map_err(|e| format!("--ca {}: {e}", args.ca))?;
    Ok(options.tls)
}

fn options(args: &Args, tls: &TlsOptions) -> ConnectOptions {
    let mut options =
        ConnectOptions::default().endpoint(args.host.clone(), args.port, Security::StartTls).tls(tls.clone());
    options.connect_timeout = Duration::from_secs(120);
    options
}

fn config(args: &Args, i: usize, credentials: Credentials) -> ClientConfig {
    let (account, resource) = identity(args, i);
    let jid = Jid::new(&format!("{}@{}/{resource}", args.accounts[account].0, args.domain)).expect("a valid JID");
    let mut config = ClientConfig::new(jid, credentials);
    // The same mechanism on every server: Prosody 0.12 offers SCRAM-SHA-1.
    config.mechanisms = vec![Mechanism::ScramSha1];
    // The run is minutes long: no pings or keepalives of our own.
    config.stream.ping_interval = None;
    config.stream.keepalive_interval = None;
    config
}

/// Logs in `args.sessions` sessions, at most `concurrency` at once, with
/// `credentials(i)`; returns them in order and the elapsed time.
async fn login_all(
    args: &Arc<Args>,
    credentials: impl Fn(usize) -> Credentials,
) -> Result<(Vec<Client>, Duration, Vec<Option<ScramKeys>>), String> {
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let tls = trust(args)?;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(args.sessions);
    for i in 0..args.sessions {
        let (gate, options, config) = (gate.clone(), options(args, &tls), config(args, i, credentials(i)));
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            let mut client =
                sxmpp_tokio::connect_with(config, options).await.map_err(|e| format!("session {i}: {e}"))?;
            let mut keys = None;
            while let Some(event) = client.queued_event() {
                if let Event::Authenticated(auth) = event {
                    keys = auth.scram_keys;
                }
            }
            Ok::<_, String>((client, keys))
        }));
    }
    let mut clients = Vec::with_capacity(args.sessions);
    let mut keys = Vec::with_capacity(args.sessions);
    for task in tasks {
        let (client, k) = task.await.map_err(|e| e.to_string())??;
        clients.push(client);
        keys.push(k);
    }
    Ok((clients, start.elapsed(), keys))
}

/// Every session sends `messages` chats to its partner (the session half
/// the ring away) and reads as many; returns the elapsed time.
async fn exchange(args: &Arc<Args>, clients: Vec<Client>) -> Result<(Vec<Client>, Duration), String> {
    let n = clients.len();
    let jids: Vec<Jid> = clients.iter().map(|c| c.jid().expect("online").as_jid().clone()).collect();
    let start_line = Arc::new(tokio::sync::Barrier::new(n + 1));
    let mut tasks = Vec::with_capacity(n);
    for (i, mut client) in clients.into_iter().enumerate() {
        let partner = jids[(i + n / 2) % n].clone();
        let (start_line, messages) = (start_line.clone(), args.messages);
        tasks.push(tokio::spawn(async move {
            start_line.wait().await;
            for k in 0..messages {
                let message =
                    Message::chat(partner.clone(), &format!("message {k} from {i}")).map_err(|e| e.to_string())?;
                client.send(message).await.map_err(|e| format!("session {i} send: {e}"))?;
            }
            let mut received = 0;
            while received < messages {
                match client.next_event_timeout(Duration::from_secs(120)).await {
                    Ok(Some(Event::Stanza(Stanza::Message(_)))) => received += 1,
                    Ok(Some(_)) => {}
                    Ok(None) => return Err(format!("session {i}: closed after {received} messages")),
                    Err(e) => return Err(format!("session {i}: {e} after {received} messages")),
                }
            }
            Ok::<_, String>(client)
        }));
    }
    start_line.wait().await;
    let start = Instant::now();
    let mut clients = Vec::with_capacity(n);
    for task in tasks {
        clients.push(task.await.map_err(|e| e.to_string())??);
    }
    Ok((clients, start.elapsed()))
}

async fn close_all(clients: Vec<Client>) {
    let tasks: Vec<_> = clients.into_iter().map(|c| tokio::spawn(c.close())).collect();
    for task in tasks {
        let _ = task.await;
    }
}

async fn run(args: Arc<Args>) -> Result<String, String> {
    let idle = rss(args.pid);
    let (clients, password_time, keys) = login_all(&args, |i| {
        let (account, _) = identity(&args, i);
        Credentials::password(args.accounts[account].1.clone())
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let online = rss(args.pid);
    let (clients, message_time) = exchange(&args, clients).await?;
    close_all(clients).await;
    // Keys per account, from the first login that derived them.
    let mut cached: Vec<Option<ScramKeys>> = vec![None; args.accounts.len()];
    for (i, k) in keys.into_iter().enumerate() {
        let (account, _) = identity(&args, i);
        if cached[account].is_none() {
            cached[account] = k;
        }
    }
    if cached.iter().any(Option::is_none) {
        return Err("a login derived no SCRAM keys".into());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (clients, cached_time, _) = login_all(&args, |i| {
        let (account, _) = identity(&args, i);
        Credentials::scram_keys(cached[account].iter().cloned().collect())
    })
    .await?;
    close_all(clients).await;

    let n = args.sessions as f64;
    let per_session = match (idle, online) {
        (Some(idle), Some(online)) => format!("{:.0}", online.saturating_sub(idle) as f64 / n),
        _ => "-".into(),
    };
    let messages = (args.sessions * args.messages) as f64;
    Ok(format!(
        "sessions={} rss_idle_kib={} rss_online_kib={} rss_per_session_bytes={per_session} \
         logins_per_s_password={:.0} logins_per_s_cached_keys={:.0} messages={} messages_per_s={:.0}",
        args.sessions,
        idle.map_or(0, |b| b / 1024),
        online.map_or(0, |b| b / 1024),
        n / password_time.as_secs_f64(),
        n / cached_time.as_secs_f64(),
        messages,
        messages / message_time.as_secs_f64(),
    ))
}

fn main() {
    let args = match args() {
        Ok(args) => Arc::new(args),
        Err(e) => {
            eprintln!("sxmpp-load: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let deadline = args.deadline;
    let outcome = runtime.block_on(async move {
        tokio::time::timeout(deadline, run(args)).await.unwrap_or_else(|_| Err("deadline passed".into()))
    });
    // Sessions still open are dropped with the runtime, not waited for.
    runtime.shutdown_timeout(Duration::from_secs(5));
    match outcome {
        Ok(line) => println!("{line}"),
        Err(e) => {
            eprintln!("sxmpp-load: {e}");
            std::process::exit(1);
        }
    }
}
