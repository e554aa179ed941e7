# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/demo.sh: where the peers and the build cache live.
# A per-user cache ($HOME/.cache/xbrd) is used when it exists, so clones share one install.

if [[ -z ${XBRD_PEERS_DIR:-} ]]; then
    if [[ -d ${HOME:-}/.cache/xbrd/peers ]]; then
        XBRD_PEERS_DIR=$HOME/.cache/xbrd/peers
    else
        XBRD_PEERS_DIR=$PWD/.peers
    fi
fi
export XBRD_PEERS_DIR
if [[ -z ${CARGO_TARGET_DIR:-} ]] && [[ -d ${HOME:-}/.cache/xbrd ]]; then
    export CARGO_TARGET_DIR=$HOME/.cache/xbrd/target
fi
