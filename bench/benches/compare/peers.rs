//! The peers, each driven as its users drive it, over the same bytes in
//! the same chunking: raw xmlparser tokens (the ceiling), quick-xml and
//! rxml events, and tokio-xmpp's `XmlStream` yielding minidom elements or
//! xmpp-parsers' typed stanzas.

use std::hint::black_box;

use futures::StreamExt;

/// Raw `xmlparser` tokens of a whole `&str` (no UTF-8 check: the text is
/// already a `str`).
pub fn xmlparser_whole(text: &str) -> usize {
    let mut n = 0;
    for token in xmlparser::Tokenizer::from(text) {
        black_box(token.expect("the corpus is well-formed"));
        n += 1;
    }
    n
}

/// Raw `xmlparser` tokens of bytes arriving in `chunk`-byte reads: the
/// least an incremental driver must do with a tokenizer that needs
/// complete text. Bytes are carried to the last `<` (always a character
/// boundary and a token boundary), validated as UTF-8 and tokenized as a
/// fragment; the rest waits for the next read.
pub fn xmlparser_chunked(bytes: &[u8], chunk: usize) -> usize {
    let mut carry: Vec<u8> = Vec::with_capacity(2 * chunk.min(1 << 20));
    let mut n = 0;
    let mut first = true;
    let tokenize = |text: &str, first: bool| {
        let mut n = 0;
        let tokens = if first {
            xmlparser::Tokenizer::from(text)
        } else {
            xmlparser::Tokenizer::from_fragment(text, 0..text.len())
        };
        for token in tokens {
            match token {
                Ok(t) => {
                    black_box(t);
                    n += 1;
                }
                // The document tokenizer stops at the unclosed root of the
                // first piece; what it tokenized is counted.
                Err(_) if first => break,
                Err(e) => panic!("{e}"),
            }
        }
        n
    };
    for piece in bytes.chunks(chunk) {
        carry.extend_from_slice(piece);
        let Some(cut) = carry.iter().rposition(|&b| b == b'<') else { continue };
        if cut == 0 {
            continue;
        }
        let text = std::str::from_utf8(&carry[..cut]).expect("UTF-8");
        n += tokenize(text, first);
        first = false;
        carry.drain(..cut);
    }
    let text = std::str::from_utf8(&carry).expect("UTF-8");
    n + tokenize(text, first)
}

/// quick-xml's namespace-resolving reader, events only.
pub fn quick_xml(bytes: &[u8], chunk: usize) -> usize {
    use quick_xml::events::Event;
    let mut reader = quick_xml::reader::NsReader::from_reader(std::io::BufReader::with_capacity(chunk, bytes));
    let mut buf = Vec::new();
    let mut n = 0;
    loop {
        match reader.read_resolved_event_into(&mut buf) {
            Ok((_, Event::Eof)) => return n,
            Ok(ev) => {
                black_box(ev);
                n += 1;
            }
            Err(e) => panic!("quick-xml: {e}"),
        }
        buf.clear();
    }
}

/// rxml's push parser (namespace-resolving, as tokio-xmpp uses it),
/// events only.
pub fn rxml(bytes: &[u8], chunk: usize) -> usize {
    use rxml::Parse;
    let mut parser = rxml::Parser::new();
    let mut n = 0;
    let pieces = bytes.chunks(chunk).count();
    for (i, piece) in bytes.chunks(chunk).enumerate() {
        let mut rest = piece;
        let eof = i + 1 == pieces;
        loop {
            match parser.parse(&mut rest, eof) {
                Ok(Some(ev)) => {
                    black_box(ev);
                    n += 1;
                }
                Ok(None) => return n,
                Err(rxml::error::EndOrError::NeedMoreData) => break,
                Err(e) => panic!("rxml: {e:?}"),
            }
        }
    }
    n
}

/// tokio-xmpp 6's `XmlStream` as a client reads a server's stream: header
/// received, then each first-level element parsed into `T` (minidom's
/// `Element`, or xmpp-parsers' typed stream elements). The socket is the
/// corpus behind a `chunk`-sized read buffer.
pub fn tokio_xmpp<T>(rt: &tokio::runtime::Runtime, bytes: &[u8], chunk: usize) -> usize
where
    T: xso::FromXml + std::fmt::Debug,
{
    use tokio_xmpp::xmlstream::{ReadError, StreamHeader, Timeouts, initiate_stream};
    rt.block_on(async {
        let io = tokio::io::join(tokio::io::BufReader::with_capacity(chunk, bytes), tokio::io::sink());
        let header = StreamHeader { to: Some("example.com".into()), ..StreamHeader::default() };
        let pending = initiate_stream(io, "jabber:client", header, Timeouts::default()).await.expect("header");
        let mut stream = pending.skip_features::<T>();
        let mut n = 0;
        while let Some(item) = stream.next().await {
            match item {
                Ok(el) => {
                    black_box(el);
                    n += 1;
                }
                Err(ReadError::StreamFooterReceived) => break,
                Err(e) => panic!("tokio-xmpp: {e}"),
            }
        }
        n
    })
}

/// minidom elements written out (the xmpp-rs serialiser).
pub fn minidom_write(elements: &[minidom::Element], out: &mut Vec<u8>) -> usize {
    for el in elements {
        el.write_to(out).expect("writes to a Vec");
    }
    out.len()
}

/// The corpus's stanzas as minidom elements.
pub fn minidom_elements(body: &[u8]) -> Vec<minidom::Element> {
    let mut wrapped = b"<stream xmlns='jabber:client'>".to_vec();
    wrapped.extend_from_slice(body);
    wrapped.extend_from_slice(b"</stream>");
    let root: minidom::Element = std::str::from_utf8(&wrapped).unwrap().parse().expect("minidom parses the corpus");
    root.children().cloned().collect()
}
