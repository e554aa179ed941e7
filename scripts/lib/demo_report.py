"""What scripts/demo.sh shows and reports about the running local market (standard library only).

Usage:
  demo_report.py events RUN_DIR SHOWN        prints events after the first SHOWN to stderr (none if SHOWN < 0),
                                             the total number of decrypted events to stdout
  demo_report.py moved RUN_DIR BUYER_PORT    exit 0 once a buyer payment channel has spent something
  demo_report.py balances RUN_DIR ROLE=PORT...
  demo_report.py summary RUN_DIR GATEWAY PRICE ROLE=PORT...   the summary JSON of `demo.sh --once`

RUN_DIR holds <role>/admin.token and the buyer's event streams buyer-events.<n>.sse.
"""

import glob
import json
import os
import sys
import urllib.error
import urllib.request

BASE = 10**18


def token(run, role):
    with open(os.path.join(run, role, "admin.token")) as f:
        return f.read().strip()


def admin_get(run, role, port, path):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"Authorization": f"Bearer {token(run, role)}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        try:
            return {"http_status": e.code, "error": json.loads(body)}
        except ValueError:
            return {"http_status": e.code, "error": body}
    except (OSError, ValueError) as e:
        return {"error": str(e)}


def sse_events(run):
    """Decrypted events (the `payload` events) from every stream file, in order."""
    out = []
    files = glob.glob(os.path.join(run, "buyer-events.*.sse"))
    for path in sorted(files, key=lambda p: int(p.rsplit(".", 2)[-2])):
        kind, data = None, []
        with open(path, errors="replace") as f:
            for line in f.read().splitlines() + [""]:
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif line == "":
                    if kind == "payload" and data:
                        try:
                            out.append(json.loads("\n".join(data)))
                        except ValueError:
                            pass
                    kind, data = None, []
    return out


def xbr(units):
    try:
        return f"{int(units) / BASE:g} XBR"
    except (TypeError, ValueError):
        return str(units)


def cmd_events(run, shown):
    events = sse_events(run)
    shown = int(shown)
    if shown >= 0:
        for i, ev in enumerate(events[shown:], start=shown + 1):
            payload = json.dumps(ev.get("payload"), separators=(",", ":"))
            if len(payload) > 100:
                payload = payload[:97] + "..."
            print(f"  event {i}: {ev.get('topic')} key {ev.get('key_id')}: {payload}", file=sys.stderr)
    print(len(events))


def channels_of(balances):
    return balances.get("channels", []) if isinstance(balances, dict) else []


def cmd_moved(run, port):
    b = admin_get(run, "buyer", port, "/v1/balances")
    for c in channels_of(b):
        try:
            if c.get("channel_type") == "payment" and int(c["remaining"]) < int(c["amount"]):
                return 0
        except (KeyError, ValueError):
            continue
    return 1


def ports(args):
    return dict(a.split("=", 1) for a in args)


def cmd_balances(run, args):
    lines = []
    for role, port in ports(args).items():
        b = admin_get(run, role, port, "/v1/balances")
        if "addresses" not in b:
            err = b.get("error")
            if isinstance(err, dict):
                err = err.get("message", err)
            lines.append(f"  {role}: not available yet ({err})")
            continue
        parts = [f"{a.get('label') or 'address'} {a['address'][:10]}… {xbr(a['xbr'])}" for a in b["addresses"]]
        for c in b.get("channels", []):
            try:
                moved = xbr(int(c["amount"]) - int(c["remaining"]))
            except (KeyError, ValueError):
                moved = "?"
            verb = "spent" if c["channel_type"] == "payment" else "paid out"
            parts.append(
                f"{c['channel_type']} channel {verb} {moved}, {xbr(c['remaining'])} of {xbr(c['amount'])} left"
                f" (seq {c['seq']})"
            )
        lines.append(f"  {role}: " + "; ".join(parts))
    print("balances:\n" + "\n".join(lines), file=sys.stderr)


def rpc(gateway, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(gateway, data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        reply = json.load(resp)
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


def chain_balances(gateway, token_address, addresses):
    """ETH and XBR of each address, read straight from the chain (eth_getBalance, XBRToken.balanceOf)."""
    out = {}
    for a in sorted(addresses, key=str.lower):
        data = "0x70a08231" + a.lower().removeprefix("0x").rjust(64, "0")
        out[a] = {
            "eth": str(int(rpc(gateway, "eth_getBalance", [a, "latest"]), 16)),
            "xbr": str(int(rpc(gateway, "eth_call", [{"to": token_address, "data": data}, "latest"]), 16)),
        }
    return out


def contracts(run):
    import tomllib

    with open(os.path.join(run, "contracts.toml"), "rb") as f:
        c = tomllib.load(f)
    return c.get("ethereum", {}).get("contracts", c)


def price_units(price):
    value, _, unit = price.partition(" ")
    return str(int(value) * BASE) if unit.strip().upper() == "XBR" else str(int(value))


SNAPSHOT = [
    ("balances", "/v1/balances"),
    ("channels", "/v1/channels"),
    ("transactions", "/v1/transactions?limit=1000"),
]


def snapshot(run, role_ports):
    out = {}
    for role, port in role_ports.items():
        out[role] = {key: admin_get(run, role, port, path) for key, path in SNAPSHOT}
        if role == "seller":
            out[role]["keys"] = admin_get(run, role, port, "/v1/keys")
    return out


def stable_snapshot(run, role_ports, tries=20):
    """The daemons' state, taken twice in a row with the same result, so that a sale in the middle of
    the reads cannot make the roles disagree."""
    last = snapshot(run, role_ports)
    for _ in range(tries):
        now = snapshot(run, role_ports)
        if now == last:
            return now, True
        last = now
    return last, False


def cmd_summary(run, gateway, price, args):
    role_ports = ports(args)
    # Events first: every key they name was bought before the snapshot below.
    events = sse_events(run)
    state, stable = stable_snapshot(run, role_ports)
    addresses = set()
    roles = {}
    for role, port in role_ports.items():
        r = {"admin": f"http://127.0.0.1:{port}", "token_file": os.path.join(run, role, "admin.token")}
        r["status"] = admin_get(run, role, port, "/v1/status")
        r.update(state[role])
        balances = r["balances"] if isinstance(r["balances"], dict) else {}
        for a in balances.get("addresses", []):
            addresses.add(a["address"])
        roles[role] = r
    c = contracts(run)
    summary = {
        "run_dir": run,
        "gateway": gateway,
        "contracts": c,
        "price": price_units(price),
        "stable_snapshot": stable,
        "events": {"count": len(events), "items": events},
        "roles": roles,
        "chain": chain_balances(gateway, c["token"], addresses),
    }
    json.dump(summary, sys.stdout, indent=2)
    print()


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, run, rest = argv[1], argv[2], argv[3:]
    if cmd == "events" and len(rest) == 1:
        cmd_events(run, rest[0])
        return 0
    if cmd == "moved" and len(rest) == 1:
        return cmd_moved(run, rest[0])
    if cmd == "balances":
        cmd_balances(run, rest)
        return 0
    if cmd == "summary" and len(rest) >= 2:
        cmd_summary(run, rest[0], rest[1], rest[2:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
