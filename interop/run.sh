#!/usr/bin/env bash
# interop/run.sh [--flood N]: every adapter against real servers on
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
args=()
up() { # label server [env...]
	local label=$1 server=$2 work=$ROOT/$1
	shift 2
	mkdir -p "$work"
	STARTED+=("$server=$work")
	env "$@" interop/peer.sh up "$server" "$work" >/dev/null
	args+=(--peer "$label=$work/peer.env")
}
up prosody prosody
up ejabberd-sha256 ejabberd PEER_SCRAM=sha256
up ejabberd-sha512 ejabberd PEER_SCRAM=sha512
target/release/sxmpp-interop "${args[@]}" "$@"
