#!/usr/bin/env bash
# XBR contract artifacts from the pinned PyPI wheel `xbr==26.10.1`.
#
#   scripts/xbr-contracts.sh abi             regenerate contracts-abi/*.json (ABI only; committed)
#   scripts/xbr-contracts.sh bytecode DIR    write DIR/<Contract>.bin (deployable bytecode, hex, with the
#                                            XBRTypes link placeholder intact; not committed)
#
# The wheel is taken from $XBRD_PEERS_DIR/wheels/ (default: .peers/wheels/ in the repository) when present,
# else downloaded there with `pip download --no-deps`. Its sha256 is checked every time; a mismatch is fatal.
# Contracts: XBRTypes, XBRToken, XBRNetwork, XBRDomain, XBRCatalog, XBRMarket, XBRChannel.
# Idempotent: running it again rewrites the same files with the same content.
set -euo pipefail

XBR_VERSION="26.10.1"
XBR_WHEEL="xbr-${XBR_VERSION}-py3-none-any.whl"
XBR_WHEEL_SHA256="67b735167ae0f8d72d9506cff3d2967f95d8148977e7d1b9312938109a628a37"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
python="${PYTHON:-python3}"
peers_dir="${XBRD_PEERS_DIR:-$repo/.peers}"
wheel_dir="$peers_dir/wheels"

die() {
    echo "xbr-contracts: $*" >&2
    exit 1
}

usage() {
    echo "usage: $0 abi | bytecode DIR" >&2
    exit 2
}

sha256_of() {
    "$python" -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
}

check_hash() {
    local file="$1" actual
    actual="$(sha256_of "$file")"
    if [[ "$actual" != "$XBR_WHEEL_SHA256" ]]; then
        die "sha256 mismatch for $file: expected $XBR_WHEEL_SHA256, got $actual (refusing to use it; delete it to re-download)"
    fi
}

# Prints the path of a verified copy of the pinned wheel, downloading it into $wheel_dir if needed.
resolve_wheel() {
    local cached="$wheel_dir/$XBR_WHEEL"
    if [[ -f "$cached" ]]; then
        check_hash "$cached"
        echo "$cached"
        return
    fi
    mkdir -p "$wheel_dir"
    local tmp
    tmp="$(mktemp -d "$wheel_dir/.download.XXXXXX")"
    # shellcheck disable=SC2064
    trap "rm -rf '$tmp'" EXIT
    echo "xbr-contracts: downloading xbr==$XBR_VERSION from PyPI" >&2
    "$python" -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "xbr==$XBR_VERSION" >&2 \
        || die "pip download of xbr==$XBR_VERSION failed"
    [[ -f "$tmp/$XBR_WHEEL" ]] || die "pip did not produce $XBR_WHEEL"
    check_hash "$tmp/$XBR_WHEEL"
    mv -f "$tmp/$XBR_WHEEL" "$cached"
    rm -rf "$tmp"
    trap - EXIT
    echo "$cached"
}

[[ $# -ge 1 ]] || usage
mode="$1"
case "$mode" in
    abi)
        [[ $# -eq 1 ]] || usage
        out="$repo/contracts-abi"
        ;;
    bytecode)
        [[ $# -eq 2 ]] || usage
        out="$2"
        ;;
    *)
        usage
        ;;
esac

wheel="$(resolve_wheel)"
"$python" "$here/xbr-contracts.py" "$mode" "$wheel" "$out"
