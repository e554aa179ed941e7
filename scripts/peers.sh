#!/usr/bin/env bash
# The real peers xbrd is tested against: Crossbar.io + Autobahn|Python (pip venv), the dev chains
# ganache and anvil (npm; Foundry's anvil and cast come as prebuilt binaries in npm packages) and
# the XBR contract bytecode. Installs them, starts/stops them on 127.0.0.1, reports status.
#
# Usage: scripts/peers.sh install [crossbar|ganache|foundry|contracts|chromium]...
#        scripts/peers.sh start crossbar|ganache|anvil [--dir RUN_DIR]
#        scripts/peers.sh stop [crossbar|ganache|anvil] [--dir RUN_DIR]
#        scripts/peers.sh status [--dir RUN_DIR]
#        scripts/peers.sh env
#
# Environment:
#   XBRD_PEERS_DIR         where peers are installed (default: <repo>/.peers)
#   XBRD_RUN_DIR           where started peers keep PID records, logs and node dirs
#                          (default: $XBRD_PEERS_DIR/run; --dir overrides)
#   XBRD_CROSSBAR_WS_PORT  WebSocket port of a started Crossbar (default 8080)
#   XBRD_CROSSBAR_RS_PORT  RawSocket TCP port of a started Crossbar (default 8081)
#   XBRD_GANACHE_PORT      JSON-RPC port of a started ganache (default 8545)
#   XBRD_ANVIL_PORT        JSON-RPC port of a started anvil (default 8545)
#   XBRD_STOP_TIMEOUT      seconds between SIGTERM and SIGKILL on stop (default 15)
#   XBRD_PEER_READY_TIMEOUT seconds a started peer may take to open its ports (default 180)
set -euo pipefail

readonly CROSSBAR_VERSION=26.10.1
readonly AUTOBAHN_VERSION=26.10.2
readonly GANACHE_VERSION=7.9.2
readonly FOUNDRY_VERSION=1.7.1
readonly XBR_VERSION=26.10.1
readonly READY_TIMEOUT=${XBRD_PEER_READY_TIMEOUT:-180}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly REPO_ROOT
PEERS_DIR=${XBRD_PEERS_DIR:-$REPO_ROOT/.peers}
case $PEERS_DIR in /*) ;; *) PEERS_DIR=$PWD/$PEERS_DIR ;; esac
readonly PEERS_DIR
RUN_DIR=${XBRD_RUN_DIR:-$PEERS_DIR/run}

readonly VENV_DIR=$PEERS_DIR/venv
readonly GANACHE_DIR=$PEERS_DIR/ganache
readonly CONTRACTS_DIR=$PEERS_DIR/contracts
readonly GANACHE_CLI=$GANACHE_DIR/node_modules/ganache/dist/node/cli.js
readonly ANVIL_DIR=$PEERS_DIR/anvil
readonly CAST_DIR=$PEERS_DIR/cast
readonly ANVIL_BIN=$ANVIL_DIR/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
readonly CAST_BIN=$CAST_DIR/node_modules/@foundry-rs/cast-linux-amd64/bin/cast
# Dev wallet of both chains (ganache's --wallet.deterministic): public keys, dev chains only.
readonly DEV_MNEMONIC="myth like bonus scare over problem client lizard pioneer submit female collect"
readonly STAMP=.xbrd-peers-stamp

log() { printf 'peers: %s\n' "$*" >&2; }
die() {
    printf 'peers: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    sed -n '6,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
}

# ---------------------------------------------------------------------------------------------
# install
# ---------------------------------------------------------------------------------------------

stamp_matches() { # dir expected-content
    [[ -f $1/$STAMP ]] && [[ $(<"$1/$STAMP") == "$2" ]]
}

# Prints "crossbar==X autobahn==Y" as installed in the venv (empty on failure).
venv_versions() {
    "$VENV_DIR/bin/python" - <<'PY' 2>/dev/null || true
from importlib.metadata import version
print(f"crossbar=={version('crossbar')} autobahn=={version('autobahn')}")
PY
}

install_crossbar() {
    local want="crossbar==$CROSSBAR_VERSION autobahn==$AUTOBAHN_VERSION"
    if stamp_matches "$VENV_DIR" "$want" && [[ -x $VENV_DIR/bin/crossbar ]]; then
        log "crossbar: $want already installed"
        return
    fi
    if [[ -x $VENV_DIR/bin/python ]] && [[ -x $VENV_DIR/bin/crossbar ]] && [[ $(venv_versions) == "$want" ]]; then
        printf '%s\n' "$want" >"$VENV_DIR/$STAMP"
        log "crossbar: found $want in existing venv; stamped"
        return
    fi
    command -v python3 >/dev/null || die "python3 not found (Python 3.11 with venv is required)"
    if [[ ! -x $VENV_DIR/bin/python ]]; then
        log "crossbar: creating venv in $VENV_DIR"
        python3 -m venv "$VENV_DIR" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
    fi
    local pip_log=$PEERS_DIR/pip.log
    log "crossbar: pip install $want (takes a few minutes; log: $pip_log)"
    if ! "$VENV_DIR/bin/pip" install --disable-pip-version-check --no-input \
        "crossbar==$CROSSBAR_VERSION" \
        "autobahn[asyncio,serialization,encryption,scram,compress]==$AUTOBAHN_VERSION" \
        >"$pip_log" 2>&1; then
        tail -n 30 "$pip_log" >&2
        die "pip install failed (full log: $pip_log)"
    fi
    local have
    have=$(venv_versions)
    [[ $have == "$want" ]] || die "after pip install the venv has '${have:-nothing}', expected '$want'"
    printf '%s\n' "$want" >"$VENV_DIR/$STAMP"
    log "crossbar: installed $want"
}

# Prints the version of npm package $2 installed under directory $1 (empty if missing).
npm_version() { # dir package
    local manifest=$1/node_modules/$2/package.json
    [[ -f $manifest ]] || return 0
    node -p 'require(process.argv[1]).version' "$manifest" 2>/dev/null || true
}

# Installs one pinned npm package into its own directory; `entry` is the file it must provide.
install_npm() { # name dir package version entry
    local name=$1 dir=$2 package=$3 version=$4 entry=$5
    local want="$package@$version"
    command -v node >/dev/null || die "node not found (Node.js 20 with npm is required)"
    if stamp_matches "$dir" "$want" && [[ -f $entry ]]; then
        log "$name: $want already installed"
        return
    fi
    if [[ -f $entry ]] && [[ $(npm_version "$dir" "$package") == "$version" ]]; then
        printf '%s\n' "$want" >"$dir/$STAMP"
        log "$name: found $want in existing install; stamped"
        return
    fi
    command -v npm >/dev/null || die "npm not found (Node.js 20 with npm is required)"
    mkdir -p "$dir"
    local npm_log=$dir/npm.log
    log "$name: npm install $want (log: $npm_log)"
    if ! (cd "$dir" && npm install --no-audit --no-fund --save-exact "$want") >"$npm_log" 2>&1; then
        tail -n 30 "$npm_log" >&2
        die "npm install failed (full log: $npm_log)"
    fi
    local have
    have=$(npm_version "$dir" "$package")
    [[ $have == "$version" ]] || die "after npm install $package is '${have:-missing}', expected $version"
    [[ -f $entry ]] || die "after npm install $entry is missing"
    printf '%s\n' "$want" >"$dir/$STAMP"
    log "$name: installed $want"
}

install_ganache() {
    install_npm ganache "$GANACHE_DIR" ganache "$GANACHE_VERSION" "$GANACHE_CLI"
}

# Foundry's anvil (dev chain) and cast (its CLI, e.g. `cast wallet new` keystores), as the prebuilt
# Linux x86-64 binaries Foundry publishes on npm.
install_foundry() {
    [[ $(uname -sm) == "Linux x86_64" ]] ||
        die "anvil/cast: only the Linux x86-64 build is pinned (this is $(uname -sm))"
    install_npm anvil "$ANVIL_DIR" @foundry-rs/anvil-linux-amd64 "$FOUNDRY_VERSION" "$ANVIL_BIN"
    install_npm cast "$CAST_DIR" @foundry-rs/cast-linux-amd64 "$FOUNDRY_VERSION" "$CAST_BIN"
    local bin
    for bin in "$ANVIL_BIN" "$CAST_BIN"; do
        [[ -x $bin ]] || chmod +x "$bin"
        "$bin" --version | grep -q "$FOUNDRY_VERSION" ||
            die "$bin --version does not report $FOUNDRY_VERSION: $("$bin" --version 2>&1 | head -n 3)"
    done
}

install_contracts() {
    local script=$REPO_ROOT/scripts/xbr-contracts.sh
    if [[ ! -f $script ]]; then
        log "contracts: scripts/xbr-contracts.sh not present; XBR bytecode not extracted"
        return
    fi
    # The stamp covers the extraction script too: a changed script re-extracts.
    local want
    want="xbr==$XBR_VERSION $(sha256sum "$script" | cut -d' ' -f1)"
    if stamp_matches "$CONTRACTS_DIR" "$want"; then
        log "contracts: xbr==$XBR_VERSION bytecode already extracted"
        return
    fi
    log "contracts: extracting XBR bytecode from xbr==$XBR_VERSION into $CONTRACTS_DIR"
    XBRD_PEERS_DIR=$PEERS_DIR bash "$script" bytecode "$CONTRACTS_DIR" ||
        die "scripts/xbr-contracts.sh bytecode failed"
    [[ -d $CONTRACTS_DIR ]] || die "scripts/xbr-contracts.sh did not create $CONTRACTS_DIR"
    printf '%s\n' "$want" >"$CONTRACTS_DIR/$STAMP"
    log "contracts: done"
}

# Headless Chromium and its WebDriver (the dashboard's browser test), from the system's Debian
# packages `chromium` and `chromium-driver` through apt-get when either is missing. Not part of the
# default install: `scripts/peers.sh install chromium` (scripts/test.sh runs it).
install_chromium() {
    if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
        log "chromium: $(chromium --version 2>/dev/null | head -n 1) already installed"
        return
    fi
    command -v apt-get >/dev/null ||
        die "chromium: apt-get not found; install Chromium and its chromedriver with the system's package manager"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || die "chromium: apt-get needs root (run as root or install sudo)"
        sudo=(sudo)
    fi
    local apt_log=$PEERS_DIR/apt-chromium.log
    log "chromium: apt-get install chromium chromium-driver (log: $apt_log)"
    if ! { "${sudo[@]}" apt-get update && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y \
        --no-install-recommends chromium chromium-driver; } >"$apt_log" 2>&1; then
        tail -n 30 "$apt_log" >&2
        die "apt-get install chromium chromium-driver failed (full log: $apt_log)"
    fi
    command -v chromedriver >/dev/null || die "after apt-get install, chromedriver is not on PATH"
    log "chromium: installed $(chromium --version 2>/dev/null | head -n 1)"
}

cmd_install() {
    local parts=("$@") part
    [[ $# -gt 0 ]] || parts=(crossbar ganache foundry contracts)
    for part in "${parts[@]}"; do
        case $part in crossbar | ganache | foundry | contracts | chromium) ;; *) usage ;; esac
    done
    mkdir -p "$PEERS_DIR"
    local t0=$SECONDS
    for part in "${parts[@]}"; do "install_$part"; done
    log "${parts[*]} ready in $PEERS_DIR ($((SECONDS - t0)) s)"
}

# ---------------------------------------------------------------------------------------------
# process records: <run-dir>/<name>.pid holds "pid pgid starttime" (starttime from /proc guards
# against PID reuse: a record whose process has a different start time is not ours any more)
# ---------------------------------------------------------------------------------------------

# Prints "pgid starttime" of a live process, nothing if it is gone.
proc_ids() {
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    rest=${stat##*) } # fields after "pid (comm) "
    local -a f
    read -r -a f <<<"$rest"
    printf '%s %s\n' "${f[2]}" "${f[19]}"
}

# True if the record's process is alive and is the one we started.
record_alive() { # pid-file
    local pid pgid start ids
    read -r pid pgid start <"$1" || return 1
    ids=$(proc_ids "$pid")
    [[ -n $ids ]] && [[ ${ids#* } == "$start" ]]
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

# Stops the process of one record (its whole process group), then removes the record.
stop_record() { # pid-file
    local file=$1 name pid pgid start
    name=$(basename "$file" .pid)
    read -r pid pgid start <"$file" || {
        rm -f "$file"
        return 0
    }
    if ! record_alive "$file"; then
        # The leader is gone; its group may still hold workers that we started.
        if [[ $pgid == "$pid" ]] && group_alive "$pgid"; then
            log "$name: leader $pid gone, killing its remaining group"
            kill -KILL -- "-$pgid" 2>/dev/null || true
        else
            log "$name: not running (stale record removed)"
        fi
        rm -f "$file"
        return 0
    fi
    local target=$pid
    [[ $pgid == "$pid" ]] && target=-$pgid
    log "$name: stopping pid $pid"
    kill -TERM -- "$target" 2>/dev/null || true
    local deadline=$((SECONDS + ${XBRD_STOP_TIMEOUT:-15}))
    while kill -0 -- "$target" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 -- "$target" 2>/dev/null; then
        log "$name: still alive after SIGTERM, sending SIGKILL"
        kill -KILL -- "$target" 2>/dev/null || true
    fi
    rm -f "$file"
}

port_open() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits until every port accepts; dies with the log tail if the process exits or time runs out.
wait_ready() { # name pid log port...
    local name=$1 pid=$2 logfile=$3
    shift 3
    local deadline=$((SECONDS + READY_TIMEOUT)) port ready
    while :; do
        kill -0 "$pid" 2>/dev/null || {
            tail -n 25 "$logfile" >&2
            die "$name exited during start-up (log: $logfile)"
        }
        ready=1
        for port in "$@"; do port_open "$port" || ready=0; done
        ((ready)) && return 0
        ((SECONDS < deadline)) || {
            tail -n 25 "$logfile" >&2
            kill -TERM -- "-$pid" 2>/dev/null || true
            die "$name not ready on port(s) $* after ${READY_TIMEOUT}s (log: $logfile)"
        }
        sleep 0.25
    done
}

# Runs a command in the background in a new session (it leads its own process group); prints its pid.
spawn() { # logfile command...
    local logfile=$1
    shift
    setsid "$@" >"$logfile" 2>&1 </dev/null &
    printf '%s\n' "$!"
}

record() { # name pid
    local ids
    ids=$(proc_ids "$2")
    [[ -n $ids ]] || die "$1 (pid $2) vanished"
    printf '%s %s\n' "$2" "$ids" >"$RUN_DIR/$1.pid"
}

check_not_running() { # name
    local file=$RUN_DIR/$1.pid
    if [[ -f $file ]]; then
        record_alive "$file" && die "$1 already running (pid $(cut -d' ' -f1 "$file")); run: scripts/peers.sh stop $1"
        rm -f "$file"
    fi
}

start_crossbar() {
    local ws_port=${XBRD_CROSSBAR_WS_PORT:-8080} rs_port=${XBRD_CROSSBAR_RS_PORT:-8081}
    [[ -x $VENV_DIR/bin/crossbar ]] || die "crossbar not installed in $PEERS_DIR; run: scripts/peers.sh install"
    check_not_running crossbar
    local port
    for port in "$ws_port" "$rs_port"; do
        port_open "$port" && die "port $port on 127.0.0.1 is already in use"
    done
    local node=$RUN_DIR/crossbar/.crossbar
    mkdir -p "$node"
    rm -f "$node/rawsocket.sock" "$node/xbrmm.sock"
    "$VENV_DIR/bin/python" - "$REPO_ROOT/tests/peers/crossbar/config.json" "$node" "$ws_port" "$rs_port" <<'PY'
import json, os, sys
src, node, ws_port, rs_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
config = json.load(open(src))
for worker in config["workers"]:
    for t in worker.get("transports", []):
        ep = t["endpoint"]
        if ep["type"] == "unix":
            ep["path"] = node + "/" + os.path.basename(ep["path"])
        elif t["type"] == "web":
            ep["port"] = ws_port
        elif t["type"] == "rawsocket":
            ep["port"] = rs_port
with open(node + "/config.json", "w") as f:
    json.dump(config, f, indent=2)
PY
    local logfile=$RUN_DIR/crossbar.log pid
    log "crossbar: starting (log: $logfile)"
    pid=$(spawn "$logfile" "$VENV_DIR/bin/crossbar" start --cbdir "$node")
    wait_ready crossbar "$pid" "$logfile" "$ws_port" "$rs_port"
    record crossbar "$pid"
    log "crossbar: ready, pid $pid"
    printf 'ws_url=ws://127.0.0.1:%s/ws\nws_auth_url=ws://127.0.0.1:%s/ws-auth\nrs_url=rs://127.0.0.1:%s\nunix_path=%s\nws_market_url=ws://127.0.0.1:%s/ws-market\nmaker_unix_path=%s\n' \
        "$ws_port" "$ws_port" "$rs_port" "$node/rawsocket.sock" "$ws_port" "$node/xbrmm.sock" | tee "$RUN_DIR/crossbar.env"
}

# Starts a dev chain (chain id 1337, the dev wallet) on 127.0.0.1:port.
start_chain() { # name port command...
    local name=$1 port=$2
    shift 2
    check_not_running "$name"
    port_open "$port" && die "port $port on 127.0.0.1 is already in use"
    local logfile=$RUN_DIR/$name.log pid
    log "$name: starting (log: $logfile)"
    pid=$(spawn "$logfile" "$@")
    wait_ready "$name" "$pid" "$logfile" "$port"
    record "$name" "$pid"
    log "$name: ready, pid $pid"
    printf 'url=http://127.0.0.1:%s\nchain_id=1337\n' "$port" | tee "$RUN_DIR/$name.env"
}

start_ganache() {
    local port=${XBRD_GANACHE_PORT:-8545}
    [[ -f $GANACHE_CLI ]] || die "ganache not installed in $PEERS_DIR; run: scripts/peers.sh install"
    start_chain ganache "$port" node "$GANACHE_CLI" --server.host 127.0.0.1 --server.port "$port" \
        --wallet.deterministic --chain.chainId 1337 --chain.networkId 1337
}

start_anvil() {
    local port=${XBRD_ANVIL_PORT:-8545}
    [[ -x $ANVIL_BIN ]] || die "anvil not installed in $PEERS_DIR; run: scripts/peers.sh install foundry"
    start_chain anvil "$port" "$ANVIL_BIN" --host 127.0.0.1 --port "$port" --chain-id 1337 \
        --mnemonic "$DEV_MNEMONIC" --accounts 10 --balance 1000
}

# Parses "--dir D" out of the arguments; the rest go to the global ARGS array.
ARGS=()
parse_dir() {
    while [[ $# -gt 0 ]]; do
        case $1 in
        --dir)
            [[ $# -ge 2 ]] || usage
            RUN_DIR=$2
            shift 2
            ;;
        --dir=*)
            RUN_DIR=${1#--dir=}
            shift
            ;;
        *)
            ARGS+=("$1")
            shift
            ;;
        esac
    done
    case $RUN_DIR in /*) ;; *) RUN_DIR=$PWD/$RUN_DIR ;; esac
}

cmd_start() {
    parse_dir "$@"
    [[ ${#ARGS[@]} -eq 1 ]] || usage
    mkdir -p "$RUN_DIR"
    case ${ARGS[0]} in
    crossbar) start_crossbar ;;
    ganache) start_ganache ;;
    anvil) start_anvil ;;
    *) usage ;;
    esac
}

cmd_stop() {
    parse_dir "$@"
    [[ ${#ARGS[@]} -le 1 ]] || usage
    [[ -d $RUN_DIR ]] || return 0
    local pattern=${ARGS[0]:-*} file found=0
    for file in "$RUN_DIR"/$pattern.pid; do
        [[ -f $file ]] || continue
        found=1
        stop_record "$file"
    done
    ((found)) || log "nothing recorded in $RUN_DIR"
}

cmd_status() {
    parse_dir "$@"
    [[ ${#ARGS[@]} -eq 0 ]] || usage
    local file name any=0
    for file in "$RUN_DIR"/*.pid; do
        [[ -f $file ]] || continue
        any=1
        name=$(basename "$file" .pid)
        if record_alive "$file"; then
            printf '%s: running (pid %s)\n' "$name" "$(cut -d' ' -f1 "$file")"
            [[ -f $RUN_DIR/$name.env ]] && sed 's/^/  /' "$RUN_DIR/$name.env"
        else
            printf '%s: not running (stale record)\n' "$name"
        fi
    done
    ((any)) || printf 'no peers started from %s\n' "$RUN_DIR"
    printf 'installed in %s:\n' "$PEERS_DIR"
    local d
    for d in "$VENV_DIR" "$GANACHE_DIR" "$ANVIL_DIR" "$CAST_DIR" "$CONTRACTS_DIR"; do
        if [[ -f $d/$STAMP ]]; then
            printf '  %s: %s\n' "$(basename "$d")" "$(<"$d/$STAMP")"
        else
            printf '  %s: not installed\n' "$(basename "$d")"
        fi
    done
}

cmd_env() {
    [[ $# -eq 0 ]] || usage
    printf 'export XBRD_PEERS_DIR=%q\n' "$PEERS_DIR"
    printf 'export XBRD_PYTHON=%q\n' "$VENV_DIR/bin/python"
    printf 'export XBRD_CROSSBAR=%q\n' "$VENV_DIR/bin/crossbar"
    printf 'export XBRD_GANACHE_CLI=%q\n' "$GANACHE_CLI"
    printf 'export XBRD_ANVIL=%q\n' "$ANVIL_BIN"
    printf 'export XBRD_CAST=%q\n' "$CAST_BIN"
}

main() {
    [[ $# -ge 1 ]] || usage
    local sub=$1
    shift
    case $sub in
    install) cmd_install "$@" ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    env) cmd_env "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
    esac
}

main "$@"
