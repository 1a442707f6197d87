#!/usr/bin/python3
"""slixmpp (Debian python3-slixmpp) against a server of ours.

Usage: /usr/bin/python3 slixmpp_chat.py JID PASSWORD HOST PORT CA_FILE PEER [--direct-tls]

Logs in (STARTTLS unless --direct-tls, the certificate checked against
CA_FILE), sends PEER a chat message and waits for it to come back (PEER is
an echo bot), then closes. Prints one line: what was negotiated; exit 0
only if the echo arrived.
"""
import asyncio
import sys
from pathlib import Path

from slixmpp import ClientXMPP


async def main(argv):
    jid, password, host, port, ca, peer = argv[:6]
    direct = "--direct-tls" in argv
    client = ClientXMPP(jid, password)
    client.ca_certs = Path(ca)
    loop = asyncio.get_running_loop()
    started, echoed = loop.create_future(), loop.create_future()
    facts = {}
    body = "hello from slixmpp"

    def on_message(msg):
        if msg["body"] == body and not echoed.done():
            echoed.set_result(str(msg["from"]))

    def on_auth(_):
        facts["mechanism"] = client["feature_mechanisms"].mech.name if client["feature_mechanisms"].mech else "?"

    client.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
    client.add_event_handler("auth_success", on_auth)
    client.add_event_handler("failed_auth", lambda _: started.done() or started.set_exception(RuntimeError("authentication failed")))
    client.add_event_handler("message", on_message)
    client.connect((host, int(port)), use_ssl=direct, force_starttls=not direct, disable_starttls=direct)
    await asyncio.wait_for(started, 20)
    client.send_presence()
    client.send_message(mto=peer, mbody=body, mtype="chat")
    sender = await asyncio.wait_for(echoed, 20)
    client.disconnect(wait=2)
    print("slixmpp: logged in with %s over %s, echo came back from %s" % (
        facts.get("mechanism", "?"), "direct TLS" if direct else "STARTTLS", sender))


if __name__ == "__main__":
    try:
        asyncio.run(asyncio.wait_for(main(sys.argv[1:]), 60))
    except Exception as e:  # one line, non-zero exit
        print("slixmpp: FAILED: %r" % (e,))
        sys.exit(1)
