//! The `sxmpp` binary as a user meets it: bad input gives one line and
//! a non-zero exit (never a backtrace); good input works against the
//! embedded server; the demo passes.

use std::process::{Command, Output};

use sxmpp_testserver::TestServer;

fn sxmpp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sxmpp"))
        .args(args)
        .env_remove("XMPP_JID")
        .env_remove("XMPP_PASSWORD")
        .env_remove("XMPP_CA_CERT")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the sxmpp binary runs")
}

/// Fails unless the run failed with exactly one line on stderr that
/// contains `expect`.
fn one_line_error(output: &Output, expect: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.starts_with("· ")).collect();
    assert!(!output.status.success(), "exit 0 for a bad input: {stderr}");
    assert_eq!(lines.len(), 1, "want one error line, got: {stderr}");
    assert!(lines[0].starts_with("sxmpp: ") && lines[0].contains(expect), "want {expect:?} in: {stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("backtrace"), "{stderr}");
}

fn server_with_ca() -> (TestServer, tempfile::TempPath) {
    let server = TestServer::builder().user("alice", "alicepass").user("bob", "bobpass").start().unwrap();
    let ca = tempfile::write(server.ca_pem());
    (server, ca)
}

mod tempfile {
    //! A file removed when dropped (no dependency for one file).
    pub(crate) struct TempPath(pub(crate) std::path::PathBuf);

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    impl TempPath {
        pub(crate) fn as_str(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    pub(crate) fn write(contents: &str) -> TempPath {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("sxmpp-cli-test-{}-{}.pem", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, contents).unwrap();
        TempPath(path)
    }
}

#[test]
fn a_malformed_jid() {
    one_line_error(&sxmpp(&["--jid", "juliet@@example.com", "--password", "x", "ping"]), "not a valid JID");
}

#[test]
fn an_unknown_subcommand() {
    let output = sxmpp(&["frobnicate"]);
    one_line_error(&output, "frobnicate");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn an_unreachable_host() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let host = format!("127.0.0.1:{port}");
    one_line_error(
        &sxmpp(&["--jid", "alice@localhost", "--password", "x", "--host", &host, "ping"]),
        "could not connect",
    );
}

#[test]
fn a_wrong_password() {
    let (server, ca) = server_with_ca();
    let host = server.starttls_addr().to_string();
    let output =
        sxmpp(&["--jid", "alice@localhost", "--password", "wrong", "--host", &host, "--ca", ca.as_str(), "ping"]);
    one_line_error(&output, "authentication failed: not-authorized");
}

#[test]
fn an_untrusted_certificate() {
    let (server, _ca) = server_with_ca();
    let host = server.starttls_addr().to_string();
    let output = sxmpp(&["--jid", "alice@localhost", "--password", "alicepass", "--host", &host, "ping"]);
    one_line_error(&output, "UnknownIssuer");
}

#[test]
fn send_ping_and_roster_work_against_the_embedded_server() {
    let (server, ca) = server_with_ca();
    let host = server.starttls_addr().to_string();
    let base = ["--jid", "alice@localhost", "--password", "alicepass", "--host", &host, "--ca", ca.as_str()];
    let run = |extra: &[&str]| {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let output = sxmpp(&args);
        assert!(output.status.success(), "{extra:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(run(&["ping"]).starts_with("pong from localhost"));
    // The positional JID is the target, not the account.
    assert!(run(&["ping", "alice@localhost"]).starts_with("pong from alice@localhost"));
    run(&["send", "bob@localhost", "hello"]);
    assert!(run(&["roster"]).contains("(empty roster)"));
    // Direct TLS too.
    let direct = server.direct_tls_addr().to_string();
    let output = sxmpp(&[
        "--jid",
        "alice@localhost",
        "--password",
        "alicepass",
        "--host",
        &direct,
        "--direct-tls",
        "--ca",
        ca.as_str(),
        "ping",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn the_console_sends_typed_stanzas_and_shows_the_xml_with_credentials_redacted() {
    use std::io::Write;
    let (server, ca) = server_with_ca();
    let host = server.starttls_addr().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sxmpp"))
        .args(["--jid", "alice@localhost", "--password", "alicepass", "--host", &host, "--ca", ca.as_str(), "console"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "<iq type='get' id='c1'><ping xmlns='urn:xmpp:ping'/></iq>").unwrap();
    writeln!(stdin, "this is not xml <").unwrap();
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains(">> <iq type='get' id='c1'><ping xmlns='urn:xmpp:ping'/></iq>"), "{stderr}");
    assert!(stderr.contains("<< <iq") && stderr.contains("id='c1'"), "the answer is shown: {stderr}");
    assert!(stderr.contains("not sent"), "bad XML is reported, not sent: {stderr}");
    // The SASL exchange is on the console, its payloads are not.
    assert!(stderr.contains("[redacted]</auth>"), "{stderr}");
    assert!(!stderr.contains("alicepass"), "{stderr}");
}

#[test]
fn the_demo_passes() {
    let output = sxmpp(&["demo"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("bound to the channel with tls-exporter"), "{stdout}");
    assert!(stdout.contains("demo passed"), "{stdout}");
}
