//! Any chunking of the same bytes gives the same events, or the same
//! error: over hand-written streams (valid and hostile) split at random
//! points, and over the 10,000-stanza benchmark corpus at fixed chunk
//! sizes.

use proptest::prelude::*;
use sxmpp::xml::{Limits, StreamEvent, StreamReader, XmlError};

/// Feeds `input` cut at `cuts` (sorted offsets), draining events after
/// every piece; stops at the first error.
fn read_split(input: &[u8], cuts: &[usize], limits: Limits) -> (Vec<StreamEvent>, Option<XmlError>) {
    let mut reader = StreamReader::new(limits);
    let mut events = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&input.len())) {
        let end = end.clamp(start, input.len());
        reader.feed(&input[start..end]);
        start = end;
        loop {
            match reader.next_event() {
                Ok(Some(ev)) => events.push(ev),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

fn read_chunks(input: &[u8], chunk: usize) -> (Vec<StreamEvent>, Option<XmlError>) {
    let cuts: Vec<usize> = (chunk..input.len()).step_by(chunk).collect();
    read_split(input, &cuts, Limits::default())
}

const HEADER: &str = "<?xml version='1.0'?><stream:stream from='im.example.com' id='t7AMCin9zjMNwQKDnplntZPIDEI=' to='juliet@im.example.com' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

/// Streams that exercise every construct, valid and invalid.
fn samples() -> Vec<Vec<u8>> {
    let bodies: &[&[u8]] = &[
        // RFC 6120 §9.1 flavoured negotiation and stanzas.
        b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>",
        b"<message from='romeo@example.net/orchard' to='juliet@im.example.com/balcony' type='chat' xml:lang='en'><body>Neither, fair saint, if either thee dislike.</body><thread>e0ffe42b28561960c6b12b944a092794b9683a38</thread></message>",
        b"  \n\t<presence/>\r\n <iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>   ",
        b"<message><body>caf\xC3\xA9 \xE2\x99\x9A \xF0\x9F\x8E\xA3 &lt;&amp;&gt; &#x2603; &#169;</body><x xmlns='urn:x'><![CDATA[a]]]]><![CDATA[>b <c> & d]]></x></message>",
        b"<foo:bar xmlns:foo='urn:foo' foo:a='1' b='&apos;&quot;'><foo:baz/><qux xmlns=''/></foo:bar>",
        b"<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>",
        // Hostile: each must fail the same way however it is split.
        b"<message><body>\xC3\x28</body></message>",
        b"<message><body>&#x0;</body></message>",
        b"<message><!-- c --></message>",
        b"<message><body>&xxe;</body></message>",
        b"<message to='a' to='b'/>",
        b"<message><body></message>",
        b"<presence/>text<presence/>",
        b"<presence/><?pi?>",
        b"<x:y/>",
        b"<a xmlns:xml='urn:bad'/>",
        b"<message><body>\x01</body></message>",
        b"<message id='\xEF\xBF\xBF'/>",
    ];
    let mut out: Vec<Vec<u8>> = bodies
        .iter()
        .map(|b| {
            let mut v = HEADER.as_bytes().to_vec();
            v.extend_from_slice(b);
            v
        })
        .collect();
    out.push(b"<?xml version='1.0' encoding='UTF-16'?><stream:stream>".to_vec());
    out.push(b"\xFF\xFE<\x00s\x00".to_vec());
    out.push(b"<!DOCTYPE x [<!ENTITY a 'b'>]><x/>".to_vec());
    out.push(b"<stream xmlns='http://etherx.jabber.org/streams'><message xmlns='jabber:client'/></stream>".to_vec());
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_split_of_a_sample_stream_gives_the_same_outcome(
        which in 0usize..22,
        mut cuts in proptest::collection::vec(0usize..2000, 0..40),
    ) {
        let samples = samples();
        let input = &samples[which % samples.len()];
        cuts.sort_unstable();
        let whole = read_split(input, &[], Limits::default());
        let split = read_split(input, &cuts, Limits::default());
        prop_assert_eq!(&whole, &split);
        let bytewise = read_chunks(input, 1);
        prop_assert_eq!(&whole, &bytewise);
    }

    #[test]
    fn any_split_gives_the_same_limit_errors(
        cuts in proptest::collection::btree_set(0usize..3000, 0..30),
        max_stanza_bytes in 40usize..400,
        max_tag_bytes in 20usize..200,
    ) {
        let limits = Limits { max_stanza_bytes, max_tag_bytes, ..Limits::default() };
        let mut input = HEADER.as_bytes().to_vec();
        input.extend_from_slice(b"<message to='juliet@example.com' id='aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'><body>");
        input.extend(std::iter::repeat_n(b'x', 300));
        input.extend_from_slice(b"</body></message>");
        let cuts: Vec<usize> = cuts.into_iter().collect();
        let whole = read_split(&input, &[], limits);
        prop_assert_eq!(&whole, &read_split(&input, &cuts, limits));
    }
}

#[test]
fn every_sample_is_read_the_same_at_fixed_chunk_sizes() {
    for input in samples() {
        let whole = read_chunks(&input, input.len().max(1));
        for chunk in [1, 2, 3, 5, 7, 64] {
            assert_eq!(whole, read_chunks(&input, chunk), "chunk {chunk} of {:?}", String::from_utf8_lossy(&input));
        }
    }
}

/// The benchmark corpus, vendored so the tests need nothing outside the
/// repository.
fn corpus() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/corpus-10k.xml");
    std::fs::read(path).expect("core/testdata/corpus-10k.xml")
}

#[test]
fn the_corpus_gives_exactly_10000_stanzas_in_every_chunking() {
    let input = corpus();
    let whole = read_chunks(&input, input.len());
    assert_eq!(whole.1, None);
    let events = &whole.0;
    assert!(matches!(events.first(), Some(StreamEvent::Open(_))));
    assert_eq!(events.last(), Some(&StreamEvent::Close));
    let stanzas = events.iter().filter(|e| matches!(e, StreamEvent::Element(_))).count();
    assert_eq!(stanzas, 10_000);
    for chunk in [1, 7, 64, 4096] {
        let split = read_chunks(&input, chunk);
        assert!(split == whole, "chunk size {chunk} changed the events");
    }
}
