#!/usr/bin/env bash
# Runs every check of xbrd on this machine: peer install, format, lints, all tests (unit,
# real-peer integration, doc). Needs no input; exits non-zero if any step fails.
#
# Environment:
#   XBRD_PEERS_DIR    peers install dir (default: $HOME/.cache/xbrd/peers if it exists, else .peers)
#   CARGO_TARGET_DIR  build dir (default: $HOME/.cache/xbrd/target if $HOME/.cache/xbrd exists)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/lib/env.sh
source scripts/lib/env.sh

# Every peer a test starts is recorded here; whatever is still running at the end is stopped.
XBRD_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/xbrd-test-run.XXXXXX")
export XBRD_RUN_DIR

SUMMARY=()
FAILED=0

cleanup() {
    [[ -d $XBRD_RUN_DIR ]] || return 0
    local leftovers
    leftovers=$(find "$XBRD_RUN_DIR" -name '*.pid' | wc -l)
    if ((leftovers > 0)); then
        printf '\n==> stopping %s peer(s) left over by tests\n' "$leftovers"
        scripts/peers.sh stop --dir "$XBRD_RUN_DIR" || true
    fi
    rm -rf "$XBRD_RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step NAME COMMAND...: runs one step, records its outcome and keeps going.
step() {
    local name=$1 t0=$SECONDS
    shift
    printf '\n==> %s\n' "$name"
    if "$@" </dev/null; then
        SUMMARY+=("ok    $name ($((SECONDS - t0)) s)")
    else
        SUMMARY+=("FAIL  $name ($((SECONDS - t0)) s)")
        FAILED=1
    fi
}

run_tests() {
    if cargo nextest --version >/dev/null 2>&1; then
        cargo nextest run --workspace --locked --no-tests=warn
    else
        echo "cargo-nextest not found; using cargo test"
        cargo test --workspace --locked --no-fail-fast
    fi
}

printf 'peers: %s\ntarget: %s\n' "$XBRD_PEERS_DIR" "${CARGO_TARGET_DIR:-target (default)}"
step "install peers (scripts/peers.sh install)" scripts/peers.sh install
# Headless Chromium for the dashboard's browser test (system packages, through apt-get if missing).
step "install chromium (scripts/peers.sh install chromium)" scripts/peers.sh install chromium
step "cargo fmt --check" cargo fmt --all --check
step "cargo clippy -D warnings" cargo clippy --workspace --all-targets --locked -- -D warnings
step "tests (unit + real-peer integration)" run_tests
step "doc tests" cargo test --doc --workspace --locked

cleanup

printf '\n==> summary\n'
printf '  %s\n' "${SUMMARY[@]}"
if ((FAILED)); then
    printf 'FAILED\n'
    exit 1
fi
printf 'all checks passed\n'
