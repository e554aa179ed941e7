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

say() { printf '\n==> %s\n' "$*"; }

cleanup() {
    trap - EXIT INT TERM
    say "stopping everything the demo started"
    if [[ -n $BACKEND_PID ]] && kill -0 "$BACKEND_PID" 2>/dev/null; then
        kill -TERM "$BACKEND_PID" 2>/dev/null || true
        wait "$BACKEND_PID" 2>/dev/null || true
    fi
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

say "round trip 1: Autobahn|Python calls xbrd.demo.add2(2, 3) through the router"
# stderr only on failure: optional packages of the venv print harmless import tracebacks.
if ! "$PYTHON" -u scripts/lib/demo_peer.py call "$WS_URL" "$REALM" 2 3 2>"$RUN_DIR/call.err"; then
    cat "$RUN_DIR/call.err" >&2
    echo "demo: the Autobahn|Python call failed" >&2
    exit 1
fi

say "round trip 2: xbrd's own wamp CLI calls xbrd.demo.add2(20, 22)"
if [[ -f crates/wamp-client/src/bin/wamp.rs ]]; then
    cargo build --release --quiet -p wamp-client --bin wamp
    WAMP=${CARGO_TARGET_DIR:-target}/release/wamp
    "$WAMP" call --url "$WS_URL" --realm "$REALM" xbrd.demo.add2 20 22
else
    echo "PENDING: the wamp CLI (crates/wamp-client/src/bin/wamp.rs) does not exist yet."
    echo "         When it does, this step runs:"
    echo "         wamp call --url $WS_URL --realm $REALM xbrd.demo.add2 20 22"
fi

if ((ONCE)); then
    say "done"
    exit 0
fi
say "router and backend keep running; press Ctrl-C to stop"
wait "$BACKEND_PID"
