#!/usr/bin/env bash
# The whole local XBR market in one command: installs what is missing (the peers, a release build of
# xbrd), starts a dev chain (anvil, or ganache), deploys the XBR contracts and bootstraps the dev market
# (config/dev-market.toml), starts Crossbar.io and three `xbrd run` processes (market maker, seller
# publishing a sample feed, buyer), waits until each answers /ready, prints the admin URLs, then shows
# the buyer's decrypted events and the balances as they move. Ctrl-C stops exactly what it started and exits 0. Everything binds
# 127.0.0.1. The market realm is the secured one: the maker joins over the router's maker socket (role
# xbrmm); the seller and the buyer get WAMP-cryptosign keys (`xbrd keygen`), registered once for their
# members (`xbrd market register-key`, the member keys from the market description), and join with them.
#
# Usage: scripts/demo.sh [--once] [--help]
#   --once   run until the buyer has received $XBRD_DEMO_EVENTS decrypted events and its payment
#            channel has moved, print a summary JSON on stdout, stop everything; exit 0, non-zero on
#            failure (within $XBRD_DEMO_TIMEOUT seconds)
#
# Environment:
#   XBRD_BIN                an already built xbrd binary (default: cargo build --release -p xbrd)
#   XBRD_DEMO_DIR           run directory (configs, keys, stores, logs); default a fresh temp dir,
#                           removed on a clean exit (a given directory is kept)
#   XBRD_CROSSBAR_WS_PORT   Crossbar WebSocket port (default 8080)
#   XBRD_CROSSBAR_RS_PORT   Crossbar RawSocket port (default 8081)
#   XBRD_DEMO_CHAIN         the dev chain: anvil (default; starts in well under a second) or ganache
#   XBRD_CHAIN_PORT         its JSON-RPC port (default: $XBRD_GANACHE_PORT, else 8545)
#   XBRD_MAKER_ADMIN_PORT   admin API of the market maker (default 7480)
#   XBRD_SELLER_ADMIN_PORT  admin API of the seller (default 7481)
#   XBRD_BUYER_ADMIN_PORT   admin API of the buyer (default 7482)
#   XBRD_DEMO_EVENTS        --once: decrypted events to wait for (default 8)
#   XBRD_DEMO_TIMEOUT       seconds the daemons get to become ready, and --once to finish (default 180)
#   XBRD_PEERS_DIR, CARGO_TARGET_DIR (see scripts/lib/env.sh)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO_ROOT=$PWD
# shellcheck source=scripts/lib/env.sh
source scripts/lib/env.sh

usage() {
    sed -n '11,29s/^# \{0,1\}//p' "$0"
}

ONCE=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --once) ONCE=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        exit 2
        ;;
    esac
    shift
done

readonly REALM=xbr-market
readonly WS_PORT=${XBRD_CROSSBAR_WS_PORT:-8080}
readonly RS_PORT=${XBRD_CROSSBAR_RS_PORT:-8081}
readonly CHAIN=${XBRD_DEMO_CHAIN:-anvil}
readonly CHAIN_PORT=${XBRD_CHAIN_PORT:-${XBRD_GANACHE_PORT:-8545}}
readonly WANT_EVENTS=${XBRD_DEMO_EVENTS:-8}
readonly TIMEOUT=${XBRD_DEMO_TIMEOUT:-180}
readonly GATEWAY=http://127.0.0.1:$CHAIN_PORT
readonly ROUTER=ws://127.0.0.1:$WS_PORT/ws-market
readonly ROLES=(marketmaker seller buyer)
declare -A ADMIN_PORT=(
    [marketmaker]=${XBRD_MAKER_ADMIN_PORT:-7480}
    [seller]=${XBRD_SELLER_ADMIN_PORT:-7481}
    [buyer]=${XBRD_BUYER_ADMIN_PORT:-7482}
)

# The dev chains' PUBLIC deterministic keys (mnemonic "myth like bonus …"): never use them on a real chain.
# The members (accounts 2, 3), the owner (1) and the maker (6) are set up by config/dev-market.toml.
readonly DEPLOYER_KEY=4f3edf983ac636a65a842ce7c78d9aa706d3b113bce9c46f30d7d21715b23b1d # account 0
declare -A ROLE_KEY=(
    [marketmaker]=e485d098507f54e7733a205420dfddbe58db035fa577fc294ebd14db90767a52 # account 6
    [seller]=add53f9a7e588d003326d1cbf9e4a43c061aadd9bc938c843a79e7b4fd2ad743      # account 4, delegate of 2
    [buyer]=395df67f0c2d2d9fe1ad08d1bc8b6627011959b79c53d7dd6a3536a33ab8a4fd       # account 5, delegate of 3
)
readonly MAKER_ADDRESS=0x3E5e9111Ae8eB78Fe1CC3bb8915d5D461F3Ef9A9
readonly SELLER_MEMBER=0x22d491Bde2303f2f43325b2108D26f1eAbA1e32b
readonly BUYER_MEMBER=0xE11BA2b4D45Eaed5996Cd0823791E0C93114882d
readonly API_ID=627f1b5c-58c2-43b1-8422-a34f7d3f5a04
readonly TOPIC_PREFIX=io.crossbar.example
readonly PRICE="35 XBR"

say() { printf '\n==> %s\n' "$*" >&2; }
note() { printf '%s\n' "$*" >&2; }
die() {
    printf 'demo: error: %s\n' "$*" >&2
    exit 1
}

case $CHAIN in anvil | ganache) ;; *) die "XBRD_DEMO_CHAIN=$CHAIN: expected anvil or ganache" ;; esac
for tool in curl setsid; do
    command -v "$tool" >/dev/null || die "$tool not found (install it: Debian/Ubuntu package ${tool/setsid/util-linux})"
done

# ---------------------------------------------------------------------------------------------
# run directory and clean-up
# ---------------------------------------------------------------------------------------------

KEEP_DIR=0
if [[ -n ${XBRD_DEMO_DIR:-} ]]; then
    RUN=$XBRD_DEMO_DIR
    case $RUN in /*) ;; *) RUN=$PWD/$RUN ;; esac
    mkdir -p "$RUN"
    KEEP_DIR=1
else
    RUN=$(mktemp -d "${TMPDIR:-/tmp}/xbrd-demo.XXXXXX")
fi
chmod 700 "$RUN"
readonly RUN
PYTHON=$XBRD_PEERS_DIR/venv/bin/python

# Stops every process this run recorded, newest first (process groups; SIGTERM, then SIGKILL).
stop_all() {
    local name
    for name in buyer-events buyer seller marketmaker crossbar anvil ganache; do
        [[ -f $RUN/$name.pid ]] || continue
        XBRD_STOP_TIMEOUT=10 scripts/peers.sh stop "$name" --dir "$RUN" 2>&1 | sed 's/^/  /' >&2 || true
    done
}

STATUS_ON_EXIT=
cleanup() {
    local rc=$?
    [[ -n $STATUS_ON_EXIT ]] && rc=$STATUS_ON_EXIT
    trap - EXIT INT TERM
    say "stopping everything the demo started"
    stop_all
    if ((rc == 0 && !KEEP_DIR)); then
        rm -rf "$RUN"
    else
        note "logs and state kept in $RUN"
    fi
    exit "$rc"
}
trap cleanup EXIT
if ((ONCE)); then
    trap 'STATUS_ON_EXIT=130; exit 130' INT
else
    trap 'STATUS_ON_EXIT=0; exit 0' INT
fi
trap 'STATUS_ON_EXIT=143; exit 143' TERM

# "pid pgid starttime", the record format scripts/peers.sh stop understands. Fails (status 1, no
# record) when the process has exited already.
record() { # name pid
    local stat rest
    stat=$(cat "/proc/$2/stat" 2>/dev/null) || return 1
    rest=${stat##*) }
    local -a f
    read -r -a f <<<"$rest"
    printf '%s %s %s\n' "$2" "${f[2]}" "${f[19]}" >"$RUN/$1.pid"
}

# Starts a command in a session of its own (its own process group) with its output in a file, and
# records it as <name>.pid; the pid is left in SPAWNED. Fails when the command has ended already.
SPAWNED=
spawn() { # name output-file command...
    local name=$1 out=$2
    shift 2
    setsid "$@" >"$out" 2>&1 </dev/null &
    SPAWNED=$!
    record "$name" "$SPAWNED"
}

alive() { # name
    local pid
    [[ -f $RUN/$1.pid ]] || return 1
    read -r pid _ <"$RUN/$1.pid"
    kill -0 "$pid" 2>/dev/null
}

port_open() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------------------------

for role in "${ROLES[@]}"; do
    port_open "${ADMIN_PORT[$role]}" && die "admin port ${ADMIN_PORT[$role]} ($role) on 127.0.0.1 is already in use"
done

say "installing the peers into $XBRD_PEERS_DIR (skipped when present)"
scripts/peers.sh install

if [[ -n ${XBRD_BIN:-} ]]; then
    BIN=$XBRD_BIN
    [[ -x $BIN ]] || die "XBRD_BIN=$BIN is not an executable"
else
    say "building xbrd (release; the first build takes several minutes)"
    cargo build --release --locked -p xbrd --bin xbrd
    BIN=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/xbrd
fi
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
readonly BIN
note "xbrd: $BIN ($("$BIN" --version))"

# ---------------------------------------------------------------------------------------------
# chain: anvil or ganache, contracts, market
# ---------------------------------------------------------------------------------------------

# Dev keys go to 0600 files: xbrd refuses key files others can read.
umask 077
mkdir -p "$RUN/keys"
printf '%s\n' "$DEPLOYER_KEY" >"$RUN/keys/deployer.key"
for role in "${ROLES[@]}"; do
    printf '%s\n' "${ROLE_KEY[$role]}" >"$RUN/keys/$role.key"
done
# The market description holds member keys too.
cp config/dev-market.toml "$RUN/dev-market.toml"
MARKET_ID=$(sed -n 's/^market_id *= *"\(0x[0-9a-fA-F]\{32\}\)".*/\1/p' "$RUN/dev-market.toml")
[[ -n $MARKET_ID ]] || die "config/dev-market.toml has no market_id (0x + 32 hex digits)"
# The daemon configuration takes the id as a UUID.
h=${MARKET_ID#0x}
MARKET_UUID=${h:0:8}-${h:8:4}-${h:12:4}-${h:16:4}-${h:20:12}

say "starting $CHAIN (chain id 1337) on 127.0.0.1:$CHAIN_PORT"
XBRD_ANVIL_PORT=$CHAIN_PORT XBRD_GANACHE_PORT=$CHAIN_PORT scripts/peers.sh start "$CHAIN" --dir "$RUN" >/dev/null

say "deploying the XBR contracts"
"$BIN" chain deploy --json --gateway "$GATEWAY" --key-file "$RUN/keys/deployer.key" \
    --out "$RUN/contracts.toml" >"$RUN/deploy.json" 2>"$RUN/deploy.log" || {
    cat "$RUN/deploy.log" >&2
    die "xbrd chain deploy failed"
}
sed -n 's/^\([a-z]*\) *= *"\(0x[0-9a-fA-F]*\)"/  \1: \2/p' "$RUN/contracts.toml" >&2

say "bootstrapping the dev market $MARKET_ID (members, market, payment and paying channels)"
"$BIN" chain bootstrap --json --gateway "$GATEWAY" --contracts-file "$RUN/contracts.toml" \
    --market "$RUN/dev-market.toml" --funder-key-file "$RUN/keys/deployer.key" \
    >"$RUN/bootstrap.json" 2>"$RUN/bootstrap.log" || {
    cat "$RUN/bootstrap.log" >&2
    die "xbrd chain bootstrap failed"
}
"$PYTHON" - "$RUN/bootstrap.json" <<'PY' >&2
import json, sys
b = json.load(open(sys.argv[1]))
print(f"  market {b['market_id']}, maker {b['maker']}")
for m in b["members"]:
    print(f"  member {m['address']} ({m['actor']})")
for c in b["channels"]:
    print(f"  {c['type'].lower()} channel {c['channel_id']}: {int(c['amount']) / 1e18:g} XBR, delegate {c['delegate']}")
PY

# ---------------------------------------------------------------------------------------------
# router and daemons
# ---------------------------------------------------------------------------------------------

say "starting Crossbar.io (realm $REALM) on 127.0.0.1:$WS_PORT"
XBRD_CROSSBAR_WS_PORT=$WS_PORT XBRD_CROSSBAR_RS_PORT=$RS_PORT \
    scripts/peers.sh start crossbar --dir "$RUN" >/dev/null
MAKER_SOCKET=$(sed -n 's/^maker_unix_path=//p' "$RUN/crossbar.env")
[[ -n $MAKER_SOCKET ]] || die "scripts/peers.sh did not name the maker's socket (maker_unix_path in $RUN/crossbar.env)"
readonly MAKER_ROUTER=rs+unix://$MAKER_SOCKET

# The parts of each role's configuration (config/<role>.toml documents every key).
role_market_section() { # role
    case $1 in
    marketmaker)
        printf 'market_id = "%s"\n' "$MARKET_UUID"
        ;;
    seller)
        cat <<EOF
maker = "$MAKER_ADDRESS"
member = "$SELLER_MEMBER"

[[market.apis]]
api_id = "$API_ID"
prefix = "$TOPIC_PREFIX"
price = "$PRICE"
rotation_interval = "5s"
categories = { kind = "demo" }

[market.sample_feed]
interval = "1s"
EOF
        ;;
    buyer)
        cat <<EOF
maker = "$MAKER_ADDRESS"
member = "$BUYER_MEMBER"
max_price = "100 XBR"
topics = ["$TOPIC_PREFIX"]
EOF
        ;;
    esac
}

# The router transport and authentication of each role: the maker over its socket, the delegates with
# their cryptosign key (wamp.priv, from `xbrd keygen`).
role_transport() { # role
    if [[ $1 == marketmaker ]]; then
        printf 'url = "%s"\n' "$MAKER_ROUTER"
    else
        printf 'url = "%s"\n' "$ROUTER"
    fi
}
role_authentication() { # role
    if [[ $1 == marketmaker ]]; then
        printf 'method = "anonymous"\n'
    else
        printf 'method = "cryptosign"\nprivate_key_file = "wamp.priv"\n'
    fi
}

write_config() { # role
    local role=$1 dir=$RUN/$1
    mkdir -p "$dir"
    if [[ $role != marketmaker ]]; then
        "$BIN" keygen --out "$dir" --name wamp >"$dir/keygen.json" ||
            die "xbrd keygen for the $role failed"
    fi
    cat >"$dir/xbrd.toml" <<EOF
# Generated by scripts/demo.sh for the local market; see config/$role.toml for every key.
role = "$role"
realm = "$REALM"

[[transports]]
$(role_transport "$role")
serializer = "cbor"
initial_retry_delay = 0.5
max_retry_delay = 5

[authentication]
$(role_authentication "$role")

[ethereum]
gateway = "$GATEWAY"
chain_id = 1337
private_key_file = "../keys/$role.key"
contracts_file = "../contracts.toml"

[market]
$(role_market_section "$role")

[store]
state_dir = "state"

[admin]
listen = "127.0.0.1:${ADMIN_PORT[$role]}"
token_file = "admin.token"

[log]
level = "info"
format = "pretty"
EOF
}

for role in "${ROLES[@]}"; do
    write_config "$role"
    "$BIN" config check -c "$RUN/$role/xbrd.toml" >"$RUN/$role/config-check.json" 2>&1 || {
        cat "$RUN/$role/config-check.json" >&2
        die "the generated $role configuration is invalid"
    }
done

# ready_code role: prints the HTTP status of GET /ready (000 if no answer).
ready_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:${ADMIN_PORT[$1]}/ready" || true
}

start_role() { # role
    local role=$1
    spawn "$role" "$RUN/$role.log" "$BIN" run -c "$RUN/$role/xbrd.toml" ||
        die "$role (pid $SPAWNED) exited at once; see $RUN/$role.log"
    note "  $role: pid $SPAWNED, admin http://127.0.0.1:${ADMIN_PORT[$role]}, log $RUN/$role.log"
}

wait_ready() { # role
    local role=$1
    while [[ $(ready_code "$role") != 200 ]]; do
        if ! alive "$role"; then
            tail -n 30 "$RUN/$role.log" >&2
            die "xbrd ($role) exited during start-up (log: $RUN/$role.log)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 30 "$RUN/$role.log" >&2
            curl -s --max-time 3 "http://127.0.0.1:${ADMIN_PORT[$role]}/ready" >&2 || true
            die "xbrd ($role) not ready after ${TIMEOUT}s (log: $RUN/$role.log)"
        fi
        sleep 0.3
    done
    note "  $role: ready"
}

# register_key role actor: registers the delegate's cryptosign key for its member (the member of the
# given actor type in the market description), through the maker's authenticator. The member key is
# written for the command only.
register_key() {
    local role=$1 actor=$2 member_key=$RUN/keys/$1-member.key
    "$PYTHON" - "$RUN/dev-market.toml" "$actor" >"$member_key" <<'PY'
import sys, tomllib
market = tomllib.load(open(sys.argv[1], "rb"))
print(next(m["key"] for m in market["members"] if m["actor"] == sys.argv[2]))
PY
    "$BIN" market register-key -c "$RUN/$role/xbrd.toml" --member-key-file "$member_key" \
        >"$RUN/$role/register-key.json" 2>"$RUN/$role/register-key.log" || {
        rm -f "$member_key"
        cat "$RUN/$role/register-key.log" >&2
        die "xbrd market register-key for the $role failed"
    }
    rm -f "$member_key"
    note "  $role: cryptosign key registered for its member ($actor)"
}

deadline=$((SECONDS + TIMEOUT))
say "starting the market maker (xbrd run)"
start_role marketmaker
wait_ready marketmaker
say "registering the seller's and the buyer's cryptosign keys at the market maker"
register_key seller provider
register_key buyer consumer
say "starting the seller and the buyer (xbrd run)"
for role in seller buyer; do
    start_role "$role"
done
for role in seller buyer; do
    wait_ready "$role"
done

# One file with every admin URL and token, for `source`.
{
    for role in "${ROLES[@]}"; do
        var=$(printf '%s' "${role/marketmaker/maker}" | tr '[:lower:]' '[:upper:]')
        printf 'XBRD_%s_URL=http://127.0.0.1:%s\n' "$var" "${ADMIN_PORT[$role]}"
        printf 'XBRD_%s_TOKEN=%s\n' "$var" "$(tr -d '[:space:]' <"$RUN/$role/admin.token")"
    done
} >"$RUN/admin.env"
umask 022

# ---------------------------------------------------------------------------------------------
# watching the market
# ---------------------------------------------------------------------------------------------

# The buyer's decrypted events (Server-Sent Events) are collected in buyer-events.<n>.sse. The endpoint
# answers once the buyer role runs; until then, or after a drop, the stream is started again.
STREAMS=0
ensure_event_stream() {
    alive buyer-events && return 0
    rm -f "$RUN/buyer-events.pid"
    # A stream that ended without a byte (the endpoint was not up yet) leaves no file behind.
    if ((STREAMS == 0)) || [[ -s $RUN/buyer-events.$STREAMS.sse ]]; then
        STREAMS=$((STREAMS + 1))
    fi
    # curl may end at once (the endpoint is not up yet): that stream is simply started again later.
    spawn buyer-events "$RUN/buyer-events.$STREAMS.sse" curl -sfN -H "Authorization: Bearer $BUYER_TOKEN" \
        -H 'Accept: text/event-stream' "http://127.0.0.1:${ADMIN_PORT[buyer]}/v1/events" || true
}

# Fails (with the log tail) when a daemon has died.
check_daemons() {
    local role
    for role in "${ROLES[@]}"; do
        alive "$role" && continue
        tail -n 30 "$RUN/$role.log" >&2
        die "xbrd ($role) exited (log: $RUN/$role.log)"
    done
}

report() { "$PYTHON" scripts/lib/demo_report.py "$@"; }

say "the local market is up"
cat >&2 <<EOF
  router         $ROUTER (realm $REALM)
  chain          $GATEWAY ($CHAIN, chain id 1337), contracts in $RUN/contracts.toml
  market maker   http://127.0.0.1:${ADMIN_PORT[marketmaker]}   log $RUN/marketmaker.log
  seller         http://127.0.0.1:${ADMIN_PORT[seller]}   log $RUN/seller.log
  buyer          http://127.0.0.1:${ADMIN_PORT[buyer]}   log $RUN/buyer.log
  admin tokens   $RUN/admin.env (XBRD_{MAKER,SELLER,BUYER}_{URL,TOKEN})

  Try, in another shell:
    source $RUN/admin.env
    curl -sN -H "Authorization: Bearer \$XBRD_BUYER_TOKEN" \$XBRD_BUYER_URL/v1/events       # decrypted events
    curl -s -H "Authorization: Bearer \$XBRD_BUYER_TOKEN" \$XBRD_BUYER_URL/v1/balances      # buyer: chain + payment channel
    curl -s -H "Authorization: Bearer \$XBRD_SELLER_TOKEN" \$XBRD_SELLER_URL/v1/keys        # seller: keys and offers
    curl -s -H "Authorization: Bearer \$XBRD_MAKER_TOKEN" \$XBRD_MAKER_URL/v1/channels      # maker: both channels
    curl -s -H "Authorization: Bearer \$XBRD_BUYER_TOKEN" \$XBRD_BUYER_URL/metrics
    tail -f $RUN/buyer.log                                                        # one line per decrypted event
EOF

BUYER_TOKEN=$(tr -d '[:space:]' <"$RUN/buyer/admin.token")
ensure_event_stream
if ((ONCE)); then
    say "waiting for $WANT_EVENTS decrypted events at the buyer and a moved payment channel (up to ${TIMEOUT}s)"
    deadline=$((SECONDS + TIMEOUT))
    while :; do
        check_daemons
        ensure_event_stream
        seen=$(report events "$RUN" -1)
        if ((seen >= WANT_EVENTS)) && report moved "$RUN" "${ADMIN_PORT[buyer]}"; then
            break
        fi
        if ((SECONDS >= deadline)); then
            tail -n 20 "$RUN/buyer.log" >&2
            die "after ${TIMEOUT}s the buyer has $seen decrypted event(s) (wanted $WANT_EVENTS) or its payment channel has not moved"
        fi
        sleep 1
    done
    say "summary"
    report summary "$RUN" "$GATEWAY" "$PRICE" \
        "marketmaker=${ADMIN_PORT[marketmaker]}" "seller=${ADMIN_PORT[seller]}" "buyer=${ADMIN_PORT[buyer]}"
    exit 0
fi

say "decrypted events at the buyer and balances, as they arrive; press Ctrl-C to stop everything"
shown=0
last_balances=0
while :; do
    check_daemons
    ensure_event_stream
    shown=$(report events "$RUN" "$shown")
    if ((SECONDS - last_balances >= 10)); then
        report balances "$RUN" "marketmaker=${ADMIN_PORT[marketmaker]}" "seller=${ADMIN_PORT[seller]}" \
            "buyer=${ADMIN_PORT[buyer]}" || true
        last_balances=$SECONDS
    fi
    sleep 1
done
