#!/usr/bin/env bash
# interop/realclients.sh: other people's clients against our server role.
# Starts `sxmpp serve` (the embedded test server) and the tokio echo bot
# (an sxmpp client) as bob; then slixmpp and go-sendxmpp (Debian's, installed
# if missing) log in as alice and carol over STARTTLS with SCRAM, send bob a
# message and get the echo back. Everything started is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
need() { dpkg -s "$1" >/dev/null 2>&1 || (export DEBIAN_FRONTEND=noninteractive; apt-get install -y -q "$1" >/dev/null); }
need python3-slixmpp
need go-sendxmpp
need python3-openssl
W=$(mktemp -d /tmp/sxmpp-realclients.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
cargo build -q --release -p sxmpp-cli
cargo build -q --release -p sxmpp-tokio --example tokio_echo_bot
# slixmpp 1.8 binds only with tls-unique (absent in TLS 1.3): offered -PLUS
# it fails, and its fallback flag 'y' is then a downgrade (RFC 5802), so
# this server offers plain SCRAM. -PLUS is proven by the OpenSSL probe.
target/release/sxmpp serve --no-channel-binding --user alice:alicepass --user bob:bobpass --user carol:carolpass --ca-out "$W/ca.pem" >"$W/serve.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^serving' "$W/serve.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(grep -o '127.0.0.1:[0-9]*' "$W/serve.out" | head -n 1 | cut -d: -f2)
TLS_PORT=$(grep -o '127.0.0.1:[0-9]*' "$W/serve.out" | sed -n 2p | cut -d: -f2)
[ -n "$PORT" ] || { cat "$W/serve.out"; echo "realclients: the test server did not start" >&2; exit 1; }
XMPP_JID=bob@localhost XMPP_PASSWORD=bobpass XMPP_HOST=127.0.0.1 XMPP_C2S_PORT=$PORT XMPP_CA_CERT=$W/ca.pem \
	target/release/examples/tokio_echo_bot >"$W/bot.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^online' "$W/bot.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^online' "$W/bot.out" || { cat "$W/bot.out"; echo "realclients: the echo bot did not log in" >&2; exit 1; }
failed=0
# slixmpp, STARTTLS and direct TLS.
for mode in "" --direct-tls; do
	port=$PORT; [ -n "$mode" ] && port=$TLS_PORT
	if line=$(timeout 90 /usr/bin/python3 interop/clients/slixmpp_chat.py alice@localhost/py alicepass 127.0.0.1 "$port" "$W/ca.pem" bob@localhost $mode); then
		echo "PASS $line"
	else
		echo "FAIL $line"; failed=1
	fi
done
# go-sendxmpp (Debian 12's 0.5.6 has no SCRAM: it logs in with PLAIN over
# TLS, its only choice). Go reads its CA from SSL_CERT_FILE. Both ways:
# it sends the sxmpp echo bot a message (the bot prints what it echoes), and
# an sxmpp client (the CLI) sends its listener one.
export SSL_CERT_FILE=$W/ca.pem
timeout 30 go-sendxmpp -u carol@localhost -p carolpass -j "127.0.0.1:$PORT" -l >"$W/go-listen.out" 2>&1 &
PIDS+=($!)
sleep 2
echo "hello from go-sendxmpp" | timeout 30 go-sendxmpp -u carol@localhost -p carolpass -j "127.0.0.1:$PORT" bob@localhost >"$W/go-send.out" 2>&1 || true
timeout 30 target/release/sxmpp --jid alice@localhost --password alicepass --host "127.0.0.1:$PORT" --ca "$W/ca.pem" \
	send carol@localhost "hello from sxmpp" 2>>"$W/go-send.out" || true
for _ in $(seq 1 100); do grep -q 'hello from sxmpp' "$W/go-listen.out" && grep -q 'hello from go-sendxmpp' "$W/bot.out" && break; sleep 0.1; done
if grep -q 'hello from go-sendxmpp' "$W/bot.out" && grep -q 'hello from sxmpp' "$W/go-listen.out"; then
	echo "PASS go-sendxmpp: logged in over STARTTLS (PLAIN: no SCRAM in this build), its message reached the sxmpp echo bot, the sxmpp CLI's reached its listener"
else
	echo "FAIL go-sendxmpp:"; cat "$W/go-send.out" "$W/go-listen.out" "$W/bot.out"; failed=1
fi
# SCRAM-SHA-256-PLUS from OpenSSL, against a server that offers -PLUS.
target/release/sxmpp serve --user alice:alicepass --ca-out "$W/ca-plus.pem" >"$W/serve-plus.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^serving' "$W/serve-plus.out" 2>/dev/null && break; sleep 0.1; done
PLUS_PORT=$(grep -o '127.0.0.1:[0-9]*' "$W/serve-plus.out" | head -n 1 | cut -d: -f2)
timeout 60 /usr/bin/python3 interop/clients/scram_plus_probe.py 127.0.0.1 "$PLUS_PORT" localhost alice alicepass "$W/ca-plus.pem" || failed=1
exit $failed
