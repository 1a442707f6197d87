#!/usr/bin/env bash
# bench/load.sh [SESSIONS] [SERVERS...]
#
# The same load against each server on this machine, one after another,
# over loopback: the embedded test server (`sxmpp serve`), Prosody 0.12 and
# ejabberd 23.01 (started by interop/peer.sh, stopped by PID). For each:
# SESSIONS concurrent sessions over STARTTLS (default 10000), one account
# each, logging in with SCRAM-SHA-1 at 4096 iterations; resident memory
# per online session; messages between sessions; logins again with cached
# SCRAM keys. Prints a Markdown table (sxmpp-load's numbers).
#
#   SERVERS: any of sxmpp prosody ejabberd (default: all three)
#   LOAD_CONCURRENCY  logins in flight at once (default 32)
#   LOAD_MESSAGES     messages each session sends (default 10)
set -euo pipefail

here=$(cd -- "$(dirname -- "$0")" && pwd -P)
root=$(cd -- "$here/.." && pwd -P)
SESSIONS=${1:-10000}
shift || true
SERVERS=${*:-sxmpp prosody ejabberd}
CONCURRENCY=${LOAD_CONCURRENCY:-32}
MESSAGES=${LOAD_MESSAGES:-10}
WORK=$(mktemp -d /tmp/sxmpp-load.XXXXXX)
ACCOUNTS=$WORK/accounts.txt
for i in $(seq 0 $((SESSIONS - 1))); do printf 'load%s:pass%s\n' "$i" "$i"; done >"$ACCOUNTS"

say() { printf 'load.sh: %s\n' "$*" >&2; }

# Every session is a socket on both sides: raise the descriptor limit as
# far as this machine allows.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((SESSIONS + 100)) ] || { say "open-file limit $(ulimit -n) is too low for $SESSIONS sessions"; exit 1; }

say "building sxmpp-load and sxmpp (release)"
(cd "$root" && cargo build -q --release -p sxmpp-bench -p sxmpp-cli --bins)
LOAD=$root/target/release/sxmpp-load
SXMPP=$root/target/release/sxmpp

SERVE_PID=
cleanup() {
	[ -z "$SERVE_PID" ] || kill "$SERVE_PID" 2>/dev/null || true
	for s in prosody ejabberd; do
		[ ! -d "$WORK/$s" ] || "$root/interop/peer.sh" down "$s" "$WORK/$s" >/dev/null 2>&1 || true
	done
}
trap cleanup EXIT

results=()
failed=0
for server in $SERVERS; do
	case "$server" in
	sxmpp)
		say "starting sxmpp serve with $SESSIONS accounts"
		"$SXMPP" serve --max-connections $((SESSIONS + 100)) --users-file "$ACCOUNTS" --ca-out "$WORK/sxmpp-ca.pem" \
			>"$WORK/serve.out" 2>&1 &
		SERVE_PID=$!
		# It derives every account's SCRAM keys before it listens.
		for _ in $(seq 1 3000); do grep -q STARTTLS "$WORK/serve.out" 2>/dev/null && break; sleep 0.2; done
		port=$(grep -o '127.0.0.1:[0-9]*' "$WORK/serve.out" | head -n 1 | cut -d: -f2)
		[ -n "$port" ] || { cat "$WORK/serve.out" >&2; exit 1; }
		pid=$SERVE_PID ca=$WORK/sxmpp-ca.pem domain=localhost
		version="sxmpp $(cd "$root" && git describe --always --dirty 2>/dev/null || echo dev)"
		;;
	prosody | ejabberd)
		say "starting $server with $SESSIONS accounts"
		PEER_USERS_FILE=$ACCOUNTS PEER_ITERATIONS=4096 PEER_SCRAM=sha PEER_TIMEOUT=180 \
			"$root/interop/peer.sh" up "$server" "$WORK/$server" >"$WORK/$server.pid"
		# shellcheck disable=SC1091
		. "$WORK/$server/peer.env"
		pid=$XMPP_PID port=$XMPP_C2S_PORT ca=$XMPP_CA_CERT domain=$XMPP_DOMAIN
		version="$server $XMPP_SERVER_VERSION"
		;;
	*) say "unknown server $server"; exit 2 ;;
	esac
	say "$version: $SESSIONS sessions on 127.0.0.1:$port"
	line=$("$LOAD" --host "127.0.0.1:$port" --domain "$domain" --ca "$ca" --accounts-file "$ACCOUNTS" \
		--sessions "$SESSIONS" --concurrency "$CONCURRENCY" --messages "$MESSAGES" --pid "$pid" --deadline 1500) \
		|| { line="failed"; failed=1; }
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
	say "$version: $line (peak RSS ${hwm} KiB)"
	results+=("$version|$line|$hwm")
	case "$server" in
	sxmpp) kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID= ;;
	*) "$root/interop/peer.sh" down "$server" "$WORK/$server" >/dev/null ;;
	esac
done

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
echo
echo "| server | sessions | RSS idle (KiB) | RSS online (KiB) | RSS per session (bytes) | peak RSS (KiB) | logins/s, password (PBKDF2 4096) | logins/s, cached SCRAM keys | messages/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in "${results[@]}"; do
	IFS='|' read -r version line hwm <<<"$r"
	if [ "$line" = failed ]; then
		echo "| $version | failed | | | | | | | |"
		continue
	fi
	echo "| $version | $(field sessions "$line") | $(field rss_idle_kib "$line") | $(field rss_online_kib "$line") | $(field rss_per_session_bytes "$line") | $hwm | $(field logins_per_s_password "$line") | $(field logins_per_s_cached_keys "$line") | $(field messages_per_s "$line") |"
done
exit "$failed"
