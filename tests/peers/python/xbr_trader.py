"""The released `xbr` SimpleBuyer / SimpleSeller as a trading peer for xbrd's cross-language tests.

Usage:
    xbr_trader.py buyer  --url URL --realm REALM --serializer S --maker ADR --key HEX
                         --topic TOPIC --events N [--max-price WEI] [--keep-going]
    xbr_trader.py seller --url URL --realm REALM --serializer S --maker ADR --key HEX
                         --topic TOPIC --events N --api-id HEX --prefix URI --price WEI --count C

buyer
    Starts `xbr.SimpleBuyer` (buyer delegate key HEX, market maker address ADR), subscribes to
    TOPIC and prints ``READY``. Every event ``(key_id, enc_ser, ciphertext)`` is unwrapped by the
    SimpleBuyer, which buys unknown keys from the market maker; each payload is printed as
    ``PAYLOAD`` (with --keep-going an unwrap error is printed as ``UNWRAP_ERROR`` and counts as an
    event; without it, it is fatal). After N events it prints ``BALANCE`` (its local
    seq/remaining and the market maker's ``get_payment_channel_balance``) and ``DONE``, and leaves.

seller
    Starts `xbr.SimpleSeller` (seller delegate key HEX) with one key series (API id, URI prefix,
    price in base units, a new key every C encryptions), prints ``READY``, then encrypts and
    publishes N payloads ``{"data": "py-seller", "counter": i}`` to TOPIC (acknowledged), each
    printed as ``PUBLISHED``. Every key the market maker buys through ``sell`` is printed as
    ``SOLD``. When every key it published under has been sold and the market maker has settled
    the last sale (nothing in flight) it prints ``BALANCE`` and ``DONE``, and leaves.

Authentication: with --cryptosign-key the peer joins with WAMP-cryptosign under that Ed25519 key
(hex seed), as on a market realm whose router asks the market maker's authenticator (protocol
spec §8.5). With --member-key (the member's Ethereum key, hex) it is the key's first login: the
HELLO authextra also carries ``wallet_address`` (the member's address, 20 bytes) and
``signature``, the member's EIP-712 MarketMemberLogin over (member, pubkey) as computed by
``xbr.sign_eip712_market_member_login``. The WELCOME is printed as ``JOINED`` (authid, authrole).

Any failure prints ``FATAL {"error": ...}`` and exits non-zero. Output lines are ``TAG <json>``,
byte strings as {"$bytes": "<hex>"}, integers beyond 63 bits (token amounts in base units) as
decimal strings so that every JSON reader keeps them exact.

Shims for the released `xbr` 26.10.1 (applied in this process only; the package is not patched):
  * protocol spec §10.1: `xbr._util.pack_uint256`/`unpack_uint256` call `web3.Web3.toBytes`/`toInt`,
    which web3 >= 6 no longer has. They are replaced by `int.to_bytes`/`int.from_bytes`
    equivalents with the same assertions and results, in `xbr._util` and in the modules that
    imported them by name (`xbr._buyer`, `xbr._seller`).
  * protocol spec §10.2: the wheel has no concrete asyncio `KeySeries`/`SimpleSeller`.
    `AsyncioKeySeries` adds the missing `start()` (mints the first key, which places its offer)
    and `stop()`, and a logger; `AsyncioSeller` is `SimpleSeller` with `KeySeries` set to it.
Usage, not a shim: the buyer unwraps events one at a time. The reference buyer run with
concurrent event handlers signs the same `seq + 1` for two new keys and falls out of sync for
good (protocol spec §13, "One purchase in flight per channel").
"""

import argparse
import asyncio
import json
import sys

import txaio

txaio.use_asyncio()

import xbr  # noqa: E402
import xbr._buyer  # noqa: E402
import xbr._seller  # noqa: E402
import xbr._util  # noqa: E402
from autobahn.asyncio.component import Component, run  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.types import PublishOptions  # noqa: E402

# --------------------------------------------------------------------------------- §10.1 shim


def pack_uint256(value):
    """`xbr._util.pack_uint256` without web3: 32 bytes big-endian, 0/None -> 32 zero bytes."""
    assert value is None or (type(value) == int and 0 <= value < 2**256), (
        "value must be uint256, but was {}".format(value)
    )
    return (value or 0).to_bytes(32, "big")


def unpack_uint256(data):
    """`xbr._util.unpack_uint256` without web3: bytes[32] big-endian, None/empty -> 0."""
    assert data is None or type(data) == bytes, "data must by bytes, was {}".format(type(data))
    if data and type(data) == bytes:
        assert len(data) == 32, "data must be bytes[32], but was bytes[{}]".format(len(data))
    return int.from_bytes(data, "big") if data else 0


for _module in (xbr, xbr._util, xbr._buyer, xbr._seller):
    _module.pack_uint256 = pack_uint256
    _module.unpack_uint256 = unpack_uint256

# --------------------------------------------------------------------------------- §10.2 shim


class AsyncioKeySeries(xbr._seller.KeySeries):
    """`xbr.KeySeries` with the asyncio `start`/`stop` the wheel leaves abstract."""

    log = txaio.make_logger()

    async def start(self):
        # The first key: `_rotate` calls the seller's on_rotate, which places the offer.
        await self._rotate()

    async def stop(self):
        # Nothing runs in the background (count-based rotation); `SimpleSeller.stop` gathers
        # what this returns, so it must be awaitable.
        pass


class AsyncioSeller(xbr.SimpleSeller):
    """`xbr.SimpleSeller` with the concrete key series; prints every sale."""

    KeySeries = AsyncioKeySeries

    def __init__(self, *args, on_sold=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._on_sold = on_sold

    def sell(self, *args, **kwargs):
        receipt = super().sell(*args, **kwargs)
        if self._on_sold:
            self._on_sold(receipt)
        return receipt


# --------------------------------------------------------------------------------- printing


def printable(value):
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, dict):
        return {k: printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable(v) for v in value]
    return value


def emit(tag, doc):
    print(tag, json.dumps(printable(doc), sort_keys=True), flush=True)


def error_doc(err):
    if isinstance(err, ApplicationError):
        return {"error": err.error, "args": printable(list(err.args)), "kwargs": printable(err.kwargs)}
    return {"error": repr(err)}


def as_int(v):
    """A balance field: 32 bytes or an integer (spec §2 conventions)."""
    return unpack_uint256(v) if isinstance(v, bytes) else int(v or 0)


# --------------------------------------------------------------------------------- roles


async def run_buyer(session, opts):
    buyer = xbr.SimpleBuyer(bytes.fromhex(opts.maker[2:]), bytes.fromhex(opts.key), opts.max_price)
    remaining = await buyer.start(session, "xbrd-interop-buyer")
    events = asyncio.Queue()

    def on_event(key_id, enc_ser, ciphertext):
        events.put_nowait((key_id, enc_ser, ciphertext))

    await session.subscribe(on_event, opts.topic)
    emit("READY", {"remaining": remaining, "seq": buyer._seq})
    for _ in range(opts.events):
        key_id, enc_ser, ciphertext = await asyncio.wait_for(events.get(), opts.timeout)
        try:
            payload = await buyer.unwrap(key_id, enc_ser, ciphertext)
        except ApplicationError as e:
            if not opts.keep_going:
                raise
            emit("UNWRAP_ERROR", dict(error_doc(e), key_id=key_id))
            continue
        emit("PAYLOAD", {"key_id": key_id, "payload": payload})
    bal = await buyer.balance()
    emit(
        "BALANCE",
        {
            "seq": buyer._seq,
            "remaining": buyer._balance,
            "keys": sum(1 for v in buyer._keys.values() if v),
            "maker": {"seq": bal["seq"], "remaining": as_int(bal["remaining"]), "inflight": as_int(bal["inflight"])},
        },
    )
    await buyer.stop()


async def run_seller(session, opts):
    sold = {}
    published_keys = set()
    progress = asyncio.Event()

    def on_sold(receipt):
        sold[receipt["key_id"]] = receipt
        emit(
            "SOLD",
            {k: receipt[k] for k in ("key_id", "channel_seq", "amount", "balance", "delegate", "signature")},
        )
        progress.set()

    seller = AsyncioSeller(bytes.fromhex(opts.maker[2:]), bytes.fromhex(opts.key), on_sold=on_sold)
    series = seller.add(bytes.fromhex(opts.api_id), opts.prefix, opts.price, count=opts.count)
    remaining = await seller.start(session)
    emit("READY", {"remaining": remaining, "seq": seller._seq, "provider_id": seller._provider_id})
    for i in range(opts.events):
        key_id, enc_ser, ciphertext = await series.encrypt({"data": "py-seller", "counter": i})
        published_keys.add(key_id)
        await session.publish(opts.topic, key_id, enc_ser, ciphertext, options=PublishOptions(acknowledge=True))
        emit("PUBLISHED", {"key_id": key_id, "counter": i})

    async def settled():
        # Every key published under is sold, and the market maker has completed the last sale
        # (nothing in flight on the paying channel, its seq is ours).
        while True:
            if published_keys <= set(sold):
                bal = await seller.balance()
                if as_int(bal["inflight"]) == 0 and bal["seq"] == seller._seq:
                    return bal
                await asyncio.sleep(0.05)
            else:
                progress.clear()
                await progress.wait()

    bal = await asyncio.wait_for(settled(), opts.timeout)
    emit(
        "BALANCE",
        {
            "seq": seller._seq,
            "remaining": seller._balance,
            "keys": len(published_keys),
            "maker": {"seq": bal["seq"], "remaining": as_int(bal["remaining"]), "inflight": as_int(bal["inflight"])},
        },
    )
    await seller.stop()


def parse_args(argv):
    p = argparse.ArgumentParser(description="xbr SimpleBuyer/SimpleSeller trading peer")
    p.add_argument("role", choices=["buyer", "seller"])
    p.add_argument("--url", required=True)
    p.add_argument("--realm", required=True)
    p.add_argument("--serializer", default="cbor", choices=["cbor", "json"])
    p.add_argument("--maker", required=True, help="market maker address 0x…")
    p.add_argument("--key", required=True, help="delegate private key (hex, 32 bytes)")
    p.add_argument("--topic", required=True)
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--max-price", type=int, default=100 * 10**18)
    p.add_argument("--keep-going", action="store_true", help="buyer: print unwrap errors and go on")
    p.add_argument("--api-id")
    p.add_argument("--prefix")
    p.add_argument("--price", type=int)
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for an event / the sales")
    p.add_argument("--cryptosign-key", help="join with WAMP-cryptosign: Ed25519 private key (hex seed)")
    p.add_argument("--member-key", help="first login: the member's Ethereum private key (hex)")
    return p.parse_args(argv)


def authentication(opts):
    """The Component's authentication: anonymous, or cryptosign (with the first-login fields)."""
    if not opts.cryptosign_key:
        return None
    from autobahn.wamp.cryptosign import CryptosignKey
    from eth_account import Account

    cskey = CryptosignKey.from_bytes(bytes.fromhex(opts.cryptosign_key))
    authextra = {"pubkey": cskey.public_key()}
    if opts.member_key:
        member_key = bytes.fromhex(opts.member_key)
        member = bytes.fromhex(Account.from_key(member_key).address[2:])
        pubkey = bytes.fromhex(cskey.public_key())
        authextra["wallet_address"] = member
        authextra["signature"] = xbr.sign_eip712_market_member_login(member_key, member, pubkey)
    return {"cryptosign": {"privkey": opts.cryptosign_key, "authextra": authextra}}


def main(argv):
    opts = parse_args(argv[1:])
    transport = {"type": "websocket", "url": opts.url, "serializers": [opts.serializer], "max_retries": 0}
    component = Component(transports=[transport], realm=opts.realm, authentication=authentication(opts))
    status = {"code": 1}

    @component.on_join
    async def joined(session, details):
        emit("JOINED", {"authid": details.authid, "authrole": details.authrole})
        try:
            await (run_buyer if opts.role == "buyer" else run_seller)(session, opts)
            emit("DONE", {})
            status["code"] = 0
        except Exception as e:  # report, never hang silently
            emit("FATAL", error_doc(e))
        session.leave()

    @component.on_connectfailure
    def connect_failed(component, error):
        emit("FATAL", {"error": "connect failed: {!r}".format(error)})

    run([component], log_level="warn")
    return status["code"]


if __name__ == "__main__":
    sys.exit(main(sys.argv))
