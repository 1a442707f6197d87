#!/usr/bin/env bash
# interop/peer.sh up|down prosody|ejabberd WORKDIR [PORT_BASE|auto]
#
# A private, loopback-only XMPP server for the interop tests: Debian's
# Prosody 0.12 or ejabberd 23.01, installed with apt-get if missing, run
# without systemd, everything it writes under WORKDIR, stopped by its PID.
#
#   up    installs (if needed), makes a test CA and a certificate for the
#         domain, writes the configuration, starts the server, creates the
#         users, and writes WORKDIR/peer.env (KEY=VALUE lines, safe to
#         source). Prints the server's PID, and nothing else, on stdout.
#   down  SIGTERM to the PID in WORKDIR/peer.pid, SIGKILL after a grace
#         period; exit 0 when nothing was running.
#
# Ports: PORT_BASE is c2s with STARTTLS required, PORT_BASE+1 direct TLS
# (XEP-0368), PORT_BASE+2 (ejabberd) its Erlang distribution, on
# 127.0.0.1 only. "auto" (the default) picks free ports in 20000-59999.
#
# Environment (optional):
#   XMPP_DOMAIN    the virtual host (default localhost); connect to
#                  127.0.0.1 and name the domain in the stream and in SNI
#   XMPP_USERS     "user:password ..." (default "alice:alicepass bob:bobpass")
#   PEER_MAM       1 to archive messages (XEP-0313); off by default, since
#                  ejabberd's archiving is what makes a 10,000-message run slow
#   PEER_SCRAM     (ejabberd) stored-password hash: sha, sha256 or sha512
#                  (default sha256); it decides which SCRAM-SHA-* it offers
#   PEER_TIMEOUT   seconds to wait for the server to come up (default 90)
#   PEER_ITERATIONS (Prosody) SCRAM iteration count for new accounts
#                  (default 10000, Prosody's own; ejabberd uses 4096)
#   PEER_USERS_FILE more users, one NAME:PASSWORD per line (thousands, for
#                  load tests): written as Prosody account files (python3,
#                  SCRAM-SHA-1) or registered in one ejabberd RPC session
set -euo pipefail

say() { printf 'peer.sh: %s\n' "$*" >&2; }
die() { printf 'peer.sh: error: %s\n' "$*" >&2; exit 1; }

[ $# -ge 3 ] && [ $# -le 4 ] || die "usage: $0 up|down prosody|ejabberd WORKDIR [PORT_BASE|auto]"
ACTION=$1 SERVER=$2 WORK_ARG=$3 PORTS=${4:-auto}
case "$ACTION" in up|down) ;; *) die "unknown action $ACTION";; esac
case "$SERVER" in prosody|ejabberd) ;; *) die "unknown server $SERVER";; esac
DOMAIN=${XMPP_DOMAIN:-localhost}
USERS=${XMPP_USERS:-"alice:alicepass bob:bobpass"}
MAM=${PEER_MAM:-0}
SCRAM=${PEER_SCRAM:-sha256}
TIMEOUT=${PEER_TIMEOUT:-90}
ITERATIONS=${PEER_ITERATIONS:-10000}
USERS_FILE=${PEER_USERS_FILE:-}
[ -z "$USERS_FILE" ] || [ -r "$USERS_FILE" ] || die "PEER_USERS_FILE $USERS_FILE is not readable"
[ -z "$USERS_FILE" ] || USERS_FILE=$(cd -- "$(dirname -- "$USERS_FILE")" && pwd -P)/$(basename -- "$USERS_FILE")
case "$ITERATIONS" in *[!0-9]*|"") die "PEER_ITERATIONS must be a number";; esac
case "$DOMAIN" in *[!a-z0-9.-]*|"") die "XMPP_DOMAIN must be a lowercase DNS name";; esac
case "$SCRAM" in sha|sha256|sha512) ;; *) die "PEER_SCRAM must be sha, sha256 or sha512";; esac

mkdir -p -- "$WORK_ARG"
WORK=$(cd -- "$WORK_ARG" && pwd -P)
case "$WORK" in *[[:space:]\"\'\\]*) die "WORKDIR must not contain spaces, quotes or backslashes";; esac
PIDFILE=$WORK/peer.pid
ENVFILE=$WORK/peer.env

# ------------------------------------------------------------------ helpers

listening() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# The PID in the pid file, if that process is this work dir's server.
our_pid() {
	local pid
	pid=$( [ -s "$PIDFILE" ] && tr -dc '0-9' <"$PIDFILE" || true )
	[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
	local cmd
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmd == *"$WORK/"* ]] || return 1
	echo "$pid"
}

stop() {
	local pid grace=$1
	# While starting, the pid file may not be written yet: the launched PID.
	pid=$(our_pid) || pid=${LAUNCHED:-}
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; return 0; }
	say "stopping $SERVER (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 $((grace * 5))); do
		kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; return 0; }
		sleep 0.2
	done
	say "pid $pid ignored SIGTERM for ${grace}s; SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
	sleep 0.5
	rm -f "$PIDFILE"
}

if [ "$ACTION" = down ]; then
	stop 30
	exit 0
fi

# ------------------------------------------------------------------ install

install_packages() {
	local missing=("$@")
	[ ${#missing[@]} -gt 0 ] || return 0
	[ "$(id -u)" = 0 ] || die "root is needed to install ${missing[*]}"
	say "installing ${missing[*]} with apt-get"
	export DEBIAN_FRONTEND=noninteractive
	# The packages' postinst must not start a system-wide service.
	local guard=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		guard=1
	fi
	local ok=0
	for attempt in 1 2; do
		if timeout 900 apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 \
			"${missing[@]}" >>"$WORK/apt.log" 2>&1; then
			ok=1
			break
		fi
		[ $attempt = 1 ] && timeout 300 apt-get update -q >>"$WORK/apt.log" 2>&1 || true
	done
	[ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d
	[ $ok = 1 ] || { tail -n 20 "$WORK/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
}

missing=()
command -v openssl >/dev/null || missing+=(openssl)
case "$SERVER" in
prosody) command -v prosody >/dev/null || missing+=(prosody lua-unbound) ;;
ejabberd) ls -d /usr/lib/*/ejabberd-* >/dev/null 2>&1 && [ -x /usr/bin/erl ] || missing+=(ejabberd) ;;
esac
install_packages "${missing[@]}"

# ------------------------------------------------------------------ ports

if pid=$(our_pid); then
	die "$SERVER already runs for $WORK (pid $pid): run '$0 down $SERVER $WORK' first"
fi
need=$([ "$SERVER" = ejabberd ] && echo 3 || echo 2)
free_from() { local p; for p in $(seq "$1" $(($1 + need - 1))); do ! listening "$p" || return 1; done; }
if [ "$PORTS" = auto ]; then
	BASE=
	for _ in $(seq 1 60); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 39990))
		if free_from "$p"; then BASE=$p; break; fi
	done
	[ -n "$BASE" ] || die "no free ports found"
else
	case "$PORTS" in *[!0-9]*|"") die "PORT_BASE must be a number or auto";; esac
	BASE=$PORTS
	free_from "$BASE" || die "a port from 127.0.0.1:$BASE on is in use"
fi
C2S=$BASE TLS=$((BASE + 1)) DIST=$((BASE + 2))

# ------------------------------------------------------------------ certificates
# A test CA and a leaf for the domain (a CA certificate used as the
# server's own is refused by webpki, hence two).
CERTS=$WORK/certs
mkdir -p "$CERTS"
if [ ! -s "$CERTS/$DOMAIN.pem" ]; then
	(
		cd "$CERTS"
		openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -keyout ca.key -out ca.crt \
			-subj "/CN=sxmpp interop test CA" -addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
		openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$DOMAIN.key" -out leaf.csr -subj "/CN=$DOMAIN" 2>/dev/null
		printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:%s,DNS:*.%s,IP:127.0.0.1\n' \
			"$DOMAIN" "$DOMAIN" >leaf.ext
		openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
			-extfile leaf.ext -out "$DOMAIN.crt" 2>/dev/null
		cat "$DOMAIN.crt" ca.crt >"$DOMAIN.chain.pem"
		cat "$DOMAIN.key" "$DOMAIN.crt" ca.crt >"$DOMAIN.pem"
		rm -f leaf.csr leaf.ext
		chmod 600 ca.key "$DOMAIN.key" "$DOMAIN.pem"
		openssl verify -CAfile ca.crt "$DOMAIN.crt" >/dev/null
	) || die "certificate generation failed"
fi

# ------------------------------------------------------------------ servers

# PEER_USERS_FILE's users as Prosody account files (internal_hashed:
# SCRAM-SHA-1 stored and server keys in hex, the salt as is), since
# prosodyctl takes a second per user.
prosody_account_files() {
	command -v python3 >/dev/null || install_packages python3-minimal
	say "writing $(grep -c : "$USERS_FILE") account files"
	python3 - "$USERS_FILE" "$WORK/data" "$DOMAIN" "$ITERATIONS" <<-'PY'
		import hashlib, hmac, os, sys, uuid
		users, data, domain, iterations = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
		enc = lambda s: "".join(c if c.isalnum() else "%%%02x" % ord(c) for c in s)
		accounts = os.path.join(data, enc(domain), "accounts")
		os.makedirs(accounts, exist_ok=True)
		for line in open(users):
		    line = line.strip()
		    if not line:
		        continue
		    name, password = line.split(":", 1)
		    salt = str(uuid.uuid4())
		    salted = hashlib.pbkdf2_hmac("sha1", password.encode(), salt.encode(), iterations)
		    client_key = hmac.new(salted, b"Client Key", "sha1").digest()
		    server_key = hmac.new(salted, b"Server Key", "sha1").hexdigest()
		    stored_key = hashlib.sha1(client_key).hexdigest()
		    with open(os.path.join(accounts, enc(name) + ".dat"), "w") as f:
		        f.write('return {\n\t["salt"] = "%s";\n\t["stored_key"] = "%s";\n\t["server_key"] = "%s";\n\t["iteration_count"] = %d;\n};\n'
		                % (salt, stored_key, server_key, iterations))
	PY
}

start_prosody() {
	local cfg=$WORK/prosody.cfg.lua root=false mam=
	[ "$(id -u)" != 0 ] || root=true # Prosody refuses root unless told
	[ "$MAM" = 1 ] && mam='"mam";'
	mkdir -p "$WORK/data" && chmod 700 "$WORK/data"
	cat >"$cfg" <<-EOF
		-- written by interop/peer.sh: a loopback-only test server
		run_as_root = $root
		pidfile = "$PIDFILE"
		data_path = "$WORK/data"
		interfaces = { "127.0.0.1" }
		c2s_ports = { $C2S }
		c2s_direct_tls_ports = { $TLS }
		s2s_ports = { }
		modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "carbons"; "smacks"; "csi_simple"; "version"; $mam }
		modules_disabled = { "s2s" }
		authentication = "internal_hashed"
		default_iteration_count = $ITERATIONS
		storage = "internal"
		c2s_require_encryption = true
		allow_unencrypted_plain_auth = false
		log = { { levels = { min = "info" }, to = "file", filename = "$WORK/server.log" } }
		ssl = { certificate = "$CERTS/$DOMAIN.chain.pem"; key = "$CERTS/$DOMAIN.key" }
		VirtualHost "$DOMAIN"
	EOF
	timeout 30 prosodyctl --config "$cfg" check config >"$WORK/check.log" 2>&1 \
		|| { cat "$WORK/check.log" >&2; die "prosodyctl check config failed"; }
	for entry in $USERS; do
		timeout 30 prosodyctl --config "$cfg" register "${entry%%:*}" "$DOMAIN" "${entry#*:}" >>"$WORK/users.log" 2>&1 \
			|| { cat "$WORK/users.log" >&2; die "registering ${entry%%:*} failed"; }
	done
	[ -z "$USERS_FILE" ] || prosody_account_files
	# Room for the 1,000-connection example (and more).
	ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
	nohup prosody -F --config "$cfg" </dev/null >"$WORK/server.out" 2>&1 &
	LAUNCHED=$!
}

# ejabberd's Erlang VM, started directly: no ejabberdctl, su or epmd.
EJ_NODE=ejabberd$C2S@localhost
EJ_LIBS=$(dirname "$(ls -d /usr/lib/*/ejabberd-* 2>/dev/null | head -n 1)")
ejabberd_ctl() {
	(cd "$WORK/spool" && HOME="$WORK" ERL_LIBS="$EJ_LIBS" timeout 60 /usr/bin/erl \
		-sname "ctl$$-$RANDOM@localhost" -hidden -noinput -setcookie "$(cat "$WORK/cookie")" \
		-erl_epmd_port "$DIST" -start_epmd false -dist_listen false -s ejabberd_ctl -extra "$EJ_NODE" "$@")
}

start_ejabberd() {
	local cfg=$WORK/ejabberd.yml mam=
	[ "$MAM" = 1 ] && mam=$'  mod_mam:\n    default: always'
	mkdir -p "$WORK/spool" && chmod 700 "$WORK/spool"
	[ -s "$WORK/cookie" ] || (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/cookie")
	cat >"$cfg" <<-EOF
		# written by interop/peer.sh: a loopback-only test server
		hosts: ["$DOMAIN"]
		loglevel: info
		certfiles: ["$CERTS/$DOMAIN.pem"]
		ca_file: "$CERTS/ca.crt"
		listen:
		  - {port: $C2S, ip: "127.0.0.1", module: ejabberd_c2s, starttls_required: true, max_stanza_size: 262144}
		  - {port: $TLS, ip: "127.0.0.1", module: ejabberd_c2s, tls: true, max_stanza_size: 262144}
		auth_method: internal
		auth_password_format: scram
		auth_scram_hash: $SCRAM
		disable_sasl_mechanisms: ["digest-md5", "x-oauth2"]
		s2s_access: s2s
		acl:
		  local: {user_regexp: ""}
		access_rules:
		  c2s: {allow: all}
		  register: {deny: all}
		  s2s: {deny: all}
		api_permissions:
		  "console commands": {from: [ejabberd_ctl], who: all, what: "*"}
		shaper_rules:
		  c2s_shaper: none
		modules:
		  mod_disco: {}
		  mod_ping: {}
		  mod_roster: {}
		  mod_carboncopy: {}
		  mod_stream_mgmt: {}
		  mod_version: {show_os: false}
		$mam
	EOF
	(cd "$WORK/spool" || exit 1; HOME=$WORK EJABBERD_CONFIG_PATH=$cfg EJABBERD_LOG_PATH=$WORK/server.log ERL_LIBS=$EJ_LIBS \
		ERL_CRASH_DUMP_BYTES=0 nohup /usr/bin/erl -sname "$EJ_NODE" -setcookie "$(cat "$WORK/cookie")" +K true \
		-kernel inet_dist_use_interface '{127,0,0,1}' -erl_epmd_port "$DIST" -start_epmd false \
		-mnesia dir "\"$WORK/spool\"" -s ejabberd -noinput </dev/null >"$WORK/server.out" 2>&1 &
		echo $! >"$PIDFILE")
	LAUNCHED=$(cat "$PIDFILE")
}

# PEER_USERS_FILE's users, registered from one Erlang node over RPC (one
# ejabberdctl call per user takes a second each).
register_ejabberd_users_file() {
	say "registering $(grep -c : "$USERS_FILE") users"
	local terms=$WORK/users.terms
	awk -F: 'NF >= 2 { name = $1; sub(/^[^:]*:/, ""); printf "{<<\"%s\">>, <<\"%s\">>}.\n", name, $0 }' "$USERS_FILE" >"$terms"
	(cd "$WORK/spool" && HOME="$WORK" ERL_LIBS="$EJ_LIBS" timeout 1200 /usr/bin/erl \
		-sname "reg$$-$RANDOM@localhost" -hidden -noinput -setcookie "$(cat "$WORK/cookie")" \
		-erl_epmd_port "$DIST" -start_epmd false -dist_listen false -eval "
			{ok, Users} = file:consult(\"$terms\"),
			Node = '$EJ_NODE',
			Bad = [{U, R} || {U, P} <- Users,
				R <- [rpc:call(Node, ejabberd_auth, try_register, [U, <<\"$DOMAIN\">>, P])],
				R =/= ok, R =/= {error, exists}],
			io:format(\"~p users, ~p failed ~p~n\", [length(Users), length(Bad), lists:sublist(Bad, 3)]),
			halt(case Bad of [] -> 0; _ -> 1 end).") >>"$WORK/users.log" 2>&1 \
		|| { tail -n 5 "$WORK/users.log" >&2; die "registering the users in $USERS_FILE failed"; }
}

register_ejabberd_users() {
	for entry in $USERS; do
		local user=${entry%%:*} password=${entry#*:}
		if ! ejabberd_ctl register "$user" "$DOMAIN" "$password" >>"$WORK/users.log" 2>&1; then
			ejabberd_ctl change_password "$user" "$DOMAIN" "$password" >>"$WORK/users.log" 2>&1 \
				|| { cat "$WORK/users.log" >&2; die "registering $user failed"; }
		fi
	done
}

say "starting $SERVER on 127.0.0.1:$C2S (STARTTLS) and :$TLS (direct TLS), domain $DOMAIN"
: >"$WORK/server.log"
LAUNCHED=
# Whatever goes wrong from here, what was started is stopped.
READY=
trap '[ -n "$READY" ] || { stop 5; tail -n 30 "$WORK/server.log" "$WORK/server.out" >&2 2>/dev/null || true; }' EXIT
"start_$SERVER"
deadline=$(($(date +%s) + TIMEOUT))
until listening "$C2S" && listening "$TLS" && [ -s "$PIDFILE" ]; do
	kill -0 "$LAUNCHED" 2>/dev/null || die "$SERVER exited while starting"
	[ "$(date +%s)" -lt "$deadline" ] || die "$SERVER not up after ${TIMEOUT}s"
	sleep 0.3
done
[ "$SERVER" = prosody ] || register_ejabberd_users
[ "$SERVER" = prosody ] || [ -z "$USERS_FILE" ] || register_ejabberd_users_file
PID=$(our_pid) || die "the pid file does not name the server just started"

cat >"$ENVFILE" <<EOF
# written by interop/peer.sh; connect to 127.0.0.1, name XMPP_DOMAIN in the stream and SNI
XMPP_SERVER=$SERVER
XMPP_SERVER_VERSION=$(dpkg-query -W -f='${Version}' "$SERVER" 2>/dev/null || echo unknown)
XMPP_PID=$PID
XMPP_HOST=127.0.0.1
XMPP_DOMAIN=$DOMAIN
XMPP_C2S_PORT=$C2S
XMPP_C2S_TLS_PORT=$TLS
XMPP_CA_CERT=$CERTS/ca.crt
XMPP_USERS="$(for e in $USERS; do printf '%s@%s:%s ' "${e%%:*}" "$DOMAIN" "${e#*:}"; done | sed 's/ $//')"
XMPP_MAM=$MAM
XMPP_LOG=$WORK/server.log
EOF
READY=1
say "$SERVER is up (pid $PID); facts in $ENVFILE"
echo "$PID"
