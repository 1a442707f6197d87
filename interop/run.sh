#!/usr/bin/env bash
# interop/run.sh [--flood N]: every adapter against real servers on
# (INTEROP_SERVERS="prosody ..." to run a subset)
# loopback. Starts Prosody (SCRAM-SHA-1) and ejabberd twice (SCRAM-SHA-256
# and SCRAM-SHA-512 stored), runs the interop program, and stops every
# server by its PID on the way out, also when something failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(mktemp -d /tmp/sxmpp-interop.XXXXXX)
STARTED=()
stop_all() {
	for entry in "${STARTED[@]}"; do
		interop/peer.sh down "${entry%%=*}" "${entry#*=}" >/dev/null || true
	done
}
trap stop_all EXIT
cargo build -q --release -p sxmpp-interop
cargo build -q --release -p sxmpp-net --example custom_loop
cargo build -q --release -p sxmpp-cli
args=()
up() { # label server [env...]
	local label=$1 server=$2 work=$ROOT/$1
	shift 2
	mkdir -p "$work"
	STARTED+=("$server=$work")
	env "$@" interop/peer.sh up "$server" "$work" >/dev/null
	args+=(--peer "$label=$work/peer.env")
}
SERVERS=${INTEROP_SERVERS:-"prosody ejabberd-sha256 ejabberd-sha512"}
for s in $SERVERS; do
	case $s in
	prosody) up prosody prosody ;;
	ejabberd-sha256) up ejabberd-sha256 ejabberd PEER_SCRAM=sha256 ;;
	ejabberd-sha512) up ejabberd-sha512 ejabberd PEER_SCRAM=sha512 ;;
	*) echo "run.sh: unknown server $s" >&2; exit 2 ;;
	esac
done
target/release/sxmpp-interop "${args[@]}" "$@"
# The sxmpp CLI against the real Prosody: ping, send, roster.
if [[ " $SERVERS " == *" prosody "* ]]; then
	(
		set -a; . "$ROOT/prosody/peer.env"; set +a
		cli() { target/release/sxmpp --jid alice@localhost --password alicepass --host "127.0.0.1:$XMPP_C2S_PORT" --ca "$XMPP_CA_CERT" "$@" 2>/dev/null; }
		cli ping | grep -q '^pong from localhost' && cli send bob@localhost "hello from the sxmpp CLI" && cli roster >/dev/null \
			&& echo "PASS sxmpp CLI × prosody: ping, send, roster" || { echo "FAIL sxmpp CLI × prosody"; exit 1; }
	)
fi
# The custom-loop example (mio, one thread, no runtime) against Prosody:
# 1,000 clients log in, each sends one message to the next, all close.
if [[ " $SERVERS " == *" prosody "* ]]; then
	ulimit -n 8192 2>/dev/null || true
	(set -a; . "$ROOT/prosody/peer.env"; set +a; target/release/examples/custom_loop "${CUSTOM_LOOP_CONNECTIONS:-1000}")
fi
