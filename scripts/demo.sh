#!/usr/bin/env bash
# The main job, for now: install the peers, start Crossbar.io on 127.0.0.1 and do WAMP round
# trips against it, then keep the router up until Ctrl-C (or exit at once with --once).
# Everything it starts is stopped on exit.
#
# Usage: scripts/demo.sh [--once]
#
# Environment: XBRD_PEERS_DIR, CARGO_TARGET_DIR (see scripts/lib/env.sh),
#   XBRD_CROSSBAR_WS_PORT (default 8080), XBRD_CROSSBAR_RS_PORT (default 8081).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib/env.sh
source scripts/lib/env.sh

ONCE=0
case ${1:-} in
--once) ONCE=1 ;;
"") ;;
*)
    sed -n '6s/^# //p' "$0" >&2
    exit 2
    ;;
esac

REALM=realm1
PYTHON=$XBRD_PEERS_DIR/venv/bin/python
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/xbrd-demo.XXXXXX")
BACKEND_PID=
REGISTER_PID=

say() { printf '\n==> %s\n' "$*"; }

cleanup() {
    trap - EXIT INT TERM
    say "stopping everything the demo started"
    local pid
    for pid in $REGISTER_PID $BACKEND_PID; do
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    scripts/peers.sh stop --dir "$RUN_DIR" || true
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "installing peers into $XBRD_PEERS_DIR"
scripts/peers.sh install

say "starting Crossbar.io"
scripts/peers.sh start crossbar --dir "$RUN_DIR" >"$RUN_DIR/crossbar.urls"
WS_URL=$(sed -n 's/^ws_url=//p' "$RUN_DIR/crossbar.urls")
RS_URL=$(sed -n 's/^rs_url=//p' "$RUN_DIR/crossbar.urls")
printf 'router: %s (WebSocket), %s (RawSocket), realm %s\n' "$WS_URL" "$RS_URL" "$REALM"

say "Autobahn|Python backend registers xbrd.demo.add2"
"$PYTHON" -u scripts/lib/demo_peer.py backend "$WS_URL" "$REALM" >"$RUN_DIR/backend.log" 2>&1 &
BACKEND_PID=$!
for _ in $(seq 1 100); do
    grep -q '^ready' "$RUN_DIR/backend.log" && break
    kill -0 "$BACKEND_PID" 2>/dev/null || break
    sleep 0.2
done
if ! grep '^ready' "$RUN_DIR/backend.log"; then
    cat "$RUN_DIR/backend.log" >&2
    echo "demo: the Python backend did not register" >&2
    exit 1
fi

# Runs the Autobahn|Python caller; its stderr is shown only on failure (optional packages of
# the venv print harmless import tracebacks).
python_call() { # procedure int...
    if ! "$PYTHON" -u scripts/lib/demo_peer.py call "$WS_URL" "$REALM" "$@" 2>"$RUN_DIR/call.err"; then
        cat "$RUN_DIR/call.err" >&2
        echo "demo: the Autobahn|Python call of $1 failed" >&2
        exit 1
    fi
}

say "round trip 1: Autobahn|Python calls xbrd.demo.add2(2, 3) through the router"
python_call xbrd.demo.add2 2 3

# xbrd's wamp CLI: a `wamp` binary target of crates/wamp-client, once it exists.
have_wamp_cli() {
    [[ -f crates/wamp-client/src/bin/wamp.rs ]] || [[ -f crates/wamp-client/src/bin/wamp/main.rs ]] ||
        grep -Eq '^name = "wamp"' crates/wamp-client/Cargo.toml
}

if have_wamp_cli; then
    say "building xbrd's wamp command-line client (release)"
    features=()
    grep -Eq '^cli = ' crates/wamp-client/Cargo.toml && features=(--features cli)
    cargo build --release --quiet -p wamp-client --bin wamp "${features[@]}"
    WAMP=${CARGO_TARGET_DIR:-target}/release/wamp

    say "round trip 2: xbrd's wamp CLI calls the Python backend: xbrd.demo.add2(20, 22)"
    "$WAMP" call --url "$WS_URL" --realm "$REALM" xbrd.demo.add2 20 22

    say "round trip 3: xbrd's wamp CLI registers xbrd.demo.mul2; Autobahn|Python calls it"
    # shellcheck disable=SC2016 # $1 and $2 are expanded by the shell wamp runs per invocation
    "$WAMP" register --url "$WS_URL" --realm "$REALM" xbrd.demo.mul2 'echo $(($1 * $2))' \
        >"$RUN_DIR/register.log" 2>&1 &
    REGISTER_PID=$!
    for _ in $(seq 1 50); do
        grep -qi 'registered' "$RUN_DIR/register.log" && break
        kill -0 "$REGISTER_PID" 2>/dev/null || break
        sleep 0.2
    done
    python_call xbrd.demo.mul2 6 7
else
    say "round trip 2: PENDING: xbrd's wamp CLI (bin target wamp of crates/wamp-client) does not exist yet"
    echo "When it does, this step runs: wamp call --url $WS_URL --realm $REALM xbrd.demo.add2 20 22"
fi

if ((ONCE)); then
    say "done"
    exit 0
fi
say "router and backend keep running; press Ctrl-C to stop"
wait "$BACKEND_PID"
