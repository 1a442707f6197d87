#!/usr/bin/python3
"""SCRAM-SHA-256-PLUS against our server from a second TLS stack (OpenSSL,
through Debian's python3-openssl), with a SCRAM client written out here.

Usage: /usr/bin/python3 scram_plus_probe.py HOST PORT DOMAIN USER PASSWORD CA_FILE

Three logins over STARTTLS, each a fresh connection: bound with
tls-exporter (RFC 9266, OpenSSL's exporter), bound with
tls-server-end-point (RFC 5929, SHA-256 of the server's certificate), and
with tls-exporter claimed but 32 wrong bytes sent, which must fail. Exit 0
only if the first two succeed (server signature checked) and the third is
refused. One line per case.
"""
import base64
import hashlib
import hmac
import os
import re
import socket
import sys

from OpenSSL import SSL, crypto

HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>")


class Link:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def send(self, text):
        self.sock.sendall(text.encode())

    def until(self, *needles):
        """Reads until one of the needles appears; returns the text so far."""
        while not any(n.encode() in self.buf for n in needles):
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("connection closed; had %r" % self.buf[-300:])
            self.buf += data
        text, self.buf = self.buf.decode(), b""
        return text


def login(host, port, domain, user, password, ca, kind, corrupt=False):
    raw = socket.create_connection((host, port), timeout=10)
    # Blocking from here: pyOpenSSL turns socket timeouts into WantRead
    # errors. The caller bounds the whole run (`timeout` in the script).
    raw.settimeout(None)
    link = Link(raw)
    link.send(HEADER % domain)
    link.until("</stream:features>")
    link.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    link.until("<proceed")
    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.load_verify_locations(ca)
    ctx.set_verify(SSL.VERIFY_PEER, lambda *args: args[-1])
    tls = SSL.Connection(ctx, raw)
    tls.set_tlsext_host_name(domain.encode())
    tls.set_connect_state()
    tls.do_handshake()
    link = Link(tls)
    link.send(HEADER % domain)
    features = link.until("</stream:features>")
    if "SCRAM-SHA-256-PLUS" not in features:
        raise RuntimeError("SCRAM-SHA-256-PLUS not offered: %s" % features)
    if kind == "tls-exporter":
        cb = tls.export_keying_material(b"EXPORTER-Channel-Binding", 32, None)
    else:
        der = crypto.dump_certificate(crypto.FILETYPE_ASN1, tls.get_peer_certificate())
        cb = hashlib.sha256(der).digest()
    if corrupt:
        cb = bytes(len(cb))
    gs2 = "p=%s,," % kind
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=%s,r=%s" % (user, nonce)
    link.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256-PLUS'>%s</auth>"
              % base64.b64encode((gs2 + first_bare).encode()).decode())
    reply = link.until("</challenge>", "</failure>", "<failure")
    m = re.search(r"<challenge[^>]*>([^<]*)</challenge>", reply)
    if not m:
        return "refused at the first message: %s" % reply
    server_first = base64.b64decode(m.group(1)).decode()
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    if not fields["r"].startswith(nonce):
        raise RuntimeError("server nonce does not extend ours")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = "c=%s,r=%s" % (base64.b64encode(gs2.encode() + cb).decode(), fields["r"])
    auth_message = ",".join([first_bare, server_first, without_proof]).encode()
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    final = "%s,p=%s" % (without_proof, base64.b64encode(proof).decode())
    link.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</response>" % base64.b64encode(final.encode()).decode())
    reply = link.until("</success>", "<success/>", "</failure>")
    m = re.search(r"<success[^>]*>([^<]*)</success>", reply)
    if not m:
        condition = re.search(r"<failure[^>]*><([a-z-]+)", reply)
        return "refused: %s" % (condition.group(1) if condition else reply)
    server_final = base64.b64decode(m.group(1)).decode()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    expected = base64.b64encode(hmac.new(server_key, auth_message, hashlib.sha256).digest()).decode()
    if server_final != "v=" + expected:
        raise RuntimeError("the server's signature is wrong")
    link.send("</stream:stream>")
    return "success"


def main(argv):
    host, port, domain, user, password, ca = argv[:6]
    ok = True
    for kind, corrupt, want in [("tls-exporter", False, "success"), ("tls-server-end-point", False, "success"),
                                ("tls-exporter", True, "refused")]:
        label = "SCRAM-SHA-256-PLUS %s%s" % (kind, " with wrong binding data" if corrupt else "")
        try:
            outcome = login(host, int(port), domain, user, password, ca, kind, corrupt)
        except Exception as e:  # reported, not raised
            outcome = "error: %r" % (e,)
        passed = outcome.startswith(want)
        ok &= passed
        print("%s probe (OpenSSL): %s: %s" % ("PASS" if passed else "FAIL", label, outcome))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
