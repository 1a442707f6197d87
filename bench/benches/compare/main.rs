//! sxmpp beside raw xmlparser, quick-xml, rxml and the xmpp-rs stack
//! (tokio-xmpp 6 `XmlStream`, minidom, xmpp-parsers), all rows in one run:
//!
//! ```text
//! cargo bench -p sxmpp-bench [-- --rounds N] [-- CORPUS]
//! ```
//!
//! Every row runs once per round, the rows rotated each round; a ratio is
//! the median over rounds of the ratio of two runs in the same round.
//! "× xmlparser" is a row's speed over raw xmlparser tokenization in the
//! same chunking (the ceiling: no UTF-8 check on whole text, no
//! namespaces, no trees); "× tokio-xmpp" is its speed over tokio-xmpp's
//! `XmlStream` yielding minidom elements, same chunking, and "×
//! xmpp-parsers" over the same stream yielding xmpp-parsers' typed stream
//! elements. Allocations are
//! counted by a counting global allocator in the same runs.

#![allow(missing_docs, unreachable_pub, clippy::disallowed_methods, clippy::disallowed_types)]

mod meter;
mod peers;

use std::hint::black_box;

use meter::{Meter, Row, median, retained};
use sxmpp::stanza::Stanza;
use sxmpp::time::Timestamp;
use sxmpp::xml::{Limits, StreamReader, StreamWriter};
use sxmpp_bench::{Corpus, big_stanza, feed, online_client, online_server, read_stream_with, send_all, settle};

const CHUNK: usize = 4096;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .map_or(15, |n| n.parse().expect("--rounds N"));
    let path = corpus_path(&args);
    let corpus = Corpus::load(path);
    let bytes = &corpus.bytes[..];
    let body = corpus.body();
    let text = std::str::from_utf8(bytes).unwrap();
    let stanzas = corpus.stanzas;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let elements = corpus.elements();
    // IQ requests would each wait for an answer; messages and presences
    // are what a client sends in bulk.
    let typed: Vec<Stanza> = elements
        .iter()
        .cloned()
        .map(|el| Stanza::from_element(el).unwrap())
        .filter(|s| !matches!(s, Stanza::Iq(_)))
        .collect();
    let typed_count = typed.len();
    let unsolicited = elements.iter().filter(|e| e.name() == "iq" && e.attr("type") == Some("result")).count();
    let minidom = peers::minidom_elements(body);
    assert_eq!(minidom.len(), stanzas);
    let mut big = b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>".to_vec();
    big.extend_from_slice(&big_stanza(1 << 20));
    let big = &big;

    let mut rows: Vec<Row<'_>> = Vec::new();
    fn add<'a>(
        rows: &mut Vec<Row<'a>>,
        group: &'static str,
        name: &str,
        run: Box<dyn FnMut(&mut Meter) -> usize + 'a>,
    ) {
        rows.push(Row { group, name: name.into(), run });
    }

    for (group, chunk) in [("whole", bytes.len()), ("4 KiB", CHUNK)] {
        if chunk == bytes.len() {
            add(&mut rows, group, "xmlparser raw tokens", Box::new(move |m| m.run(|| peers::xmlparser_whole(text))));
        } else {
            add(
                &mut rows,
                group,
                "xmlparser raw tokens",
                Box::new(move |m| m.run(|| peers::xmlparser_chunked(bytes, chunk))),
            );
        }
        add(&mut rows, group, "quick-xml NsReader events", Box::new(move |m| m.run(|| peers::quick_xml(bytes, chunk))));
        add(&mut rows, group, "rxml Parser events", Box::new(move |m| m.run(|| peers::rxml(bytes, chunk))));
        let rt = &rt;
        add(
            &mut rows,
            group,
            "tokio-xmpp XmlStream -> minidom",
            Box::new(move |m| m.run(|| peers::tokio_xmpp::<minidom::Element>(rt, bytes, chunk))),
        );
        add(
            &mut rows,
            group,
            "tokio-xmpp XmlStream -> xmpp-parsers",
            Box::new(move |m| {
                m.run(|| peers::tokio_xmpp::<tokio_xmpp::xmlstream::XmppStreamElement>(rt, bytes, chunk))
            }),
        );
        add(
            &mut rows,
            group,
            "sxmpp StreamReader -> Element",
            Box::new(move |m| {
                m.run(|| {
                    let mut n = 0;
                    read_stream_with(bytes, chunk, |el| {
                        black_box(el);
                        n += 1;
                    });
                    n
                })
            }),
        );
        let mut client = online_client();
        add(
            &mut rows,
            group,
            "sxmpp Client online, bytes -> events",
            Box::new(move |m| m.run(|| feed(&mut client, body, chunk.min(body.len())))),
        );
        let mut server = online_server();
        add(
            &mut rows,
            group,
            "sxmpp Server online, bytes -> events",
            Box::new(move |m| m.run(|| feed(&mut server, body, chunk.min(body.len())))),
        );
    }

    // Serialising: the same stanzas written out, beside tokenizing them.
    add(
        &mut rows,
        "write",
        "xmlparser raw tokens (reading)",
        Box::new(move |m| {
            m.run(|| peers::xmlparser_whole(text));
            text.len()
        }),
    );
    {
        let elements = &elements;
        add(
            &mut rows,
            "write",
            "sxmpp StreamWriter, elements -> text",
            // The output buffer is the row's, reused (cleared) from run to
            // run as a writer's is: a fresh one each run timed the kernel
            // faulting its pages in.
            Box::new({
                let mut out = String::with_capacity(bytes.len() * 2);
                move |m| {
                    let writer = StreamWriter::new();
                    out.clear();
                    m.run(|| {
                        for el in elements {
                            writer.write(&mut out, el);
                        }
                    });
                    out.len()
                }
            }),
        );
    }
    {
        let mut client = online_client();
        let typed = &typed;
        add(
            &mut rows,
            "write",
            "sxmpp Client online, send -> bytes",
            Box::new(move |m| {
                let batch = typed.clone();
                m.run(|| send_all(&mut client, batch))
            }),
        );
    }
    {
        let minidom = &minidom;
        add(
            &mut rows,
            "write",
            "minidom Element::write_to",
            Box::new({
                let mut out = Vec::with_capacity(bytes.len() * 2);
                move |m| {
                    out.clear();
                    m.run(|| peers::minidom_write(minidom, &mut out))
                }
            }),
        );
    }

    // One 1 MiB stanza, in one piece and in 64-byte reads.
    for (name, chunk) in [("1 MiB stanza, one piece", big.len()), ("1 MiB stanza, 64 B reads", 64)] {
        add(
            &mut rows,
            "1 MiB",
            name,
            Box::new(move |m| {
                m.run(|| {
                    let mut reader = StreamReader::new(Limits { max_stanza_bytes: 2 << 20, ..Limits::default() });
                    let mut n = 0;
                    for piece in big.chunks(chunk) {
                        reader.feed(piece);
                        while let Some(ev) = reader.next_event().unwrap() {
                            black_box(ev);
                            n += 1;
                        }
                    }
                    n - 1
                })
            }),
        );
    }

    // For profiling: SXMPP_BENCH_ONLY=<part of a row's name>[|<another>]
    // (the baseline of each group stays, for the ratios).
    if let Ok(only) = std::env::var("SXMPP_BENCH_ONLY") {
        let mut seen = Vec::new();
        rows.retain(|r| {
            let first_of_group = !seen.contains(&r.group);
            seen.push(r.group);
            first_of_group || only.split('|').any(|part| r.name.contains(part))
        });
    }
    let results = meter::rounds(&mut rows, rounds);

    println!(
        "sxmpp-bench: {} ({:.2} MB, {stanzas} stanzas), {rounds} rounds",
        corpus_path(&args).unwrap_or("core/testdata/corpus-10k.xml"),
        bytes.len() as f64 / 1e6
    );
    println!("machine: {}", machine());
    println!();
    println!(
        "| {:<8} | {:<38} | {:>8} | {:>12} | {:>12} | {:>14} | {:>13} | {:>12} |",
        "input", "row", "MB/s", "× xmlparser", "× tokio-xmpp", "× xmpp-parsers", "allocs/stanza", "bytes/stanza"
    );
    println!("|{:-<10}|{:-<40}|{:->10}|{:->14}|{:->14}|{:->16}|{:->15}|{:->14}|", "", "", ":", ":", ":", ":", ":", ":");
    for (i, row) in rows.iter().enumerate() {
        let (samples, units) = &results[i];
        let base = rows.iter().position(|r| r.group == row.group).unwrap();
        let peer = rows.iter().position(|r| r.group == row.group && r.name == "tokio-xmpp XmlStream -> minidom");
        let typed = rows.iter().position(|r| r.group == row.group && r.name == "tokio-xmpp XmlStream -> xmpp-parsers");
        // Writers are compared by throughput (their rows return the bytes
        // they wrote); readers by time over the same bytes.
        let work = |j: usize| if row.group == "write" { results[j].1 as f64 } else { 1.0 };
        let paired = |j: usize| {
            median(
                samples
                    .iter()
                    .zip(&results[j].0)
                    .map(|(s, b)| (work(i) / s.time.as_secs_f64()) / (work(j) / b.time.as_secs_f64()))
                    .collect(),
            )
        };
        let secs = median(samples.iter().map(|s| s.time.as_secs_f64()).collect());
        let size = match row.group {
            "1 MiB" => big.len(),
            "write" => *units,
            _ => bytes.len(),
        };
        let per = match (row.group, row.name.as_str()) {
            ("1 MiB", _) => 1.0,
            ("write", n) if n.contains("send") => typed_count as f64,
            _ => stanzas as f64,
        };
        let allocs = median(samples.iter().map(|s| s.allocs as f64).collect()) / per;
        let alloc_bytes = median(samples.iter().map(|s| s.bytes as f64).collect()) / per;
        println!(
            "| {:<8} | {:<38} | {:>8.1} | {:>12} | {:>12} | {:>14} | {:>13.1} | {:>12.0} |",
            row.group,
            row.name,
            size as f64 / 1e6 / secs,
            format!("{:.2}", paired(base)),
            peer.map_or_else(|| "".into(), |j| format!("{:.2}", paired(j))),
            typed.map_or_else(|| "".into(), |j| format!("{:.2}", paired(j))),
            allocs,
            alloc_bytes,
        );
        let expect = match (row.group, row.name.as_str()) {
            (_, n) if n.starts_with("xmlparser") || n.starts_with("quick-xml") || n.starts_with("rxml") => None,
            ("1 MiB", _) => Some(1),
            ("write", _) => None,
            // A client drops results of requests it never made (RFC 6120
            // §8.2.3 leaves them to be ignored).
            (_, n) if n.starts_with("sxmpp Client") => Some(stanzas - unsolicited),
            _ => Some(stanzas),
        };
        if let Some(expect) = expect {
            assert_eq!(*units, expect, "{} did not see every stanza", row.name);
        }
    }
    drop(rows);

    println!();
    heap();
    drop(rt);
}

/// Heap held by idle online connections, and after a 4 MB burst.
fn heap() {
    let corpus = Corpus::load(None);
    let (client_heap, mut client) = retained(online_client);
    let (server_heap, mut server) = retained(online_server);
    // Drained, then idle for the second after which buffers are given back.
    let (client_burst, _) = retained(|| {
        feed(&mut client, corpus.body(), corpus.body().len());
        settle(&mut client)
    });
    let (server_burst, _) = retained(|| {
        feed(&mut server, corpus.body(), CHUNK);
        settle(&mut server)
    });
    let _ = client.close(Timestamp::ZERO);
    println!("| connection | idle heap (bytes) | after a 4 MB burst, drained (bytes) |");
    println!("|---|---:|---:|");
    println!("| sxmpp Client online | {client_heap} | {:+} |", client_burst);
    println!("| sxmpp Server online | {server_heap} | {:+} |", server_burst);
}

/// The corpus argument: the one argument that is neither an option nor
/// the value of `--rounds`.
fn corpus_path(args: &[String]) -> Option<&str> {
    let value_of_option = |i: usize| i > 0 && args[i - 1] == "--rounds";
    args.iter().enumerate().find(|&(i, a)| !a.starts_with('-') && !value_of_option(i)).map(|(_, a)| a.as_str())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}
