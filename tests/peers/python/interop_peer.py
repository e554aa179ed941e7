"""Autobahn|Python peer for xbrd's cross-language WAMP tests.

Usage: interop_peer.py URL REALM SERIALIZER MODE [MODE ARGS...]

URL is a ws:// or rs:// router address, SERIALIZER one of json, msgpack, cbor.

Modes
-----
callee
    Registers the procedures below under ``com.interop.py.``, subscribes to
    ``com.interop.py.inbox`` (each event printed as ``EVENT <json>``) and prints ``READY``.

    echo(*args, **kwargs)      returns its arguments unchanged
    inspect(*args, **kwargs)   returns {"args": ..., "kwargs": ...} in the printout form below
                               (so the caller sees what Python decoded)
    fixtures()                 byte strings, nested maps, unicode, negative and u64 integers
    bigint()                   integers beyond u64 (not serializable with MsgPack)
    progressive(n)             n progressive results (i, {"step": i}), then final ("done", n)
    slow(seconds)              sleeps; prints ``INTERRUPTED slow`` when the call is cancelled
    fail()                     raises ApplicationError with a URI, args and kwargs
    publish(n, bigint)         publishes n events to com.interop.py.event (acknowledged), returns n

caller EVENT_COUNT
    The reverse direction: subscribes to ``com.interop.rs.event`` and prints ``READY``; waits for
    EVENT_COUNT events (each printed as ``EVENT <json>``), then calls the procedures the Rust side
    registered under ``com.interop.rs.`` (echo, progressive, slow + cancel, fail, bigint),
    printing ``RESULT <name> <json>`` per call, then ``DONE``.

call PROCEDURE ARGS_JSON
    One call with the positional arguments of the JSON list ARGS_JSON; prints ``RESULT <json>``
    or ``ERROR <json>``, then ``DONE``.

Printout form: JSON, with byte strings as {"$bytes": "<hex>"} so they compare exactly; integers
of any size are plain JSON integers.
"""

import asyncio
import json
import sys

import txaio

txaio.use_asyncio()

from autobahn.asyncio.component import Component, run  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.types import (  # noqa: E402
    CallOptions,
    CallResult,
    PublishOptions,
    RegisterOptions,
)

BIG = 999000000000000000000
U64_MAX = 2**64 - 1
NESTED = {"level1": {"level2": {"level3": [1, "two", b"\x00\x01\xfe\xff", {"k": None}]}}}


def printable(value):
    """The JSON printout form of a WAMP value: bytes become {"$bytes": hex}."""
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, dict):
        return {k: printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [printable(v) for v in value]
    return value


def emit(*parts):
    line = " ".join(p if isinstance(p, str) else json.dumps(printable(p), sort_keys=True) for p in parts)
    print(line, flush=True)


def transport_for(url, serializer):
    kind = "rawsocket" if url.startswith(("rs://", "rss://")) else "websocket"
    return {"type": kind, "url": url, "serializers": [serializer], "max_retries": 0}


def error_doc(err):
    return {"error": err.error, "args": list(err.args), "kwargs": err.kwargs or {}}


async def register_callee(session, serializer):
    prefix = "com.interop.py."

    def echo(*args, **kwargs):
        return CallResult(*args, **kwargs)

    def inspect(*args, **kwargs):
        return printable({"args": list(args), "kwargs": kwargs})

    def fixtures():
        return CallResult(
            bytes(range(256)),
            b"",
            NESTED,
            "grüße ✓",
            -(2**63),
            U64_MAX,
            True,
            None,
            blob=b"\xde\xad\xbe\xef",
            nested=NESTED,
        )

    def bigint():
        return CallResult(BIG, 2**64, big=BIG)

    async def progressive(n, details=None):
        for i in range(n):
            if details is not None and details.progress:
                details.progress(i, step=i)
            await asyncio.sleep(0.01)
        return CallResult("done", n)

    async def slow(seconds):
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            emit("INTERRUPTED slow")
            raise
        return "finished"

    def fail():
        raise ApplicationError(
            "com.interop.error.failed",
            "something failed",
            42,
            b"\x00\xff",
            reason={"code": 7, "where": ["a", "b"]},
            big=BIG if serializer != "msgpack" else 0,
        )

    async def publish(n, bigint):
        for i in range(n):
            kwargs = {"seq": i, "nested": NESTED}
            if bigint:
                kwargs["big"] = BIG
            await session.publish(
                "com.interop.py.event",
                i,
                bytes([i, 0, 255]),
                {"i": i, "bytes": bytes([i])},
                options=PublishOptions(acknowledge=True),
                **kwargs,
            )
        return n

    await session.register(echo, prefix + "echo")
    await session.register(inspect, prefix + "inspect")
    await session.register(fixtures, prefix + "fixtures")
    await session.register(bigint, prefix + "bigint")
    await session.register(progressive, prefix + "progressive", options=RegisterOptions(details_arg="details"))
    await session.register(slow, prefix + "slow")
    await session.register(fail, prefix + "fail")
    await session.register(publish, prefix + "publish")

    def on_inbox(*args, **kwargs):
        emit("EVENT", {"args": list(args), "kwargs": kwargs})

    await session.subscribe(on_inbox, "com.interop.py.inbox")
    emit("READY")


async def run_caller(session, serializer, event_count):
    all_events = asyncio.get_running_loop().create_future()
    received = []

    def on_event(*args, **kwargs):
        received.append(1)
        emit("EVENT", {"args": list(args), "kwargs": kwargs})
        if len(received) >= event_count and not all_events.done():
            all_events.set_result(None)

    await session.subscribe(on_event, "com.interop.rs.event")
    emit("READY")
    if event_count > 0:
        try:
            await asyncio.wait_for(all_events, 30)
        except asyncio.TimeoutError:
            emit("EVENTS_TIMEOUT", {"received": len(received)})

    prefix = "com.interop.rs."

    async def call(name, *args, **kwargs):
        try:
            res = await session.call(prefix + name, *args, **kwargs)
        except ApplicationError as e:
            emit("RESULT", name, error_doc(e))
            return
        if isinstance(res, CallResult):
            emit("RESULT", name, {"args": list(res.results), "kwargs": res.kwresults})
        else:
            emit("RESULT", name, {"args": [] if res is None else [res], "kwargs": {}})

    echo_args = [bytes(range(256)), b"", NESTED, "grüße ✓", -(2**63), U64_MAX, True, None]
    echo_kwargs = {"blob": b"\xde\xad\xbe\xef", "nested": NESTED}
    if serializer != "msgpack":
        echo_args.append(BIG)
        echo_kwargs["big"] = BIG
    await call("echo", *echo_args, **echo_kwargs)

    progress = []
    try:
        res = await session.call(
            prefix + "progressive",
            3,
            options=CallOptions(on_progress=lambda *a, **kw: progress.append({"args": list(a), "kwargs": kw})),
        )
        final = {"args": list(res.results), "kwargs": res.kwresults} if isinstance(res, CallResult) else {"args": [res], "kwargs": {}}
        emit("RESULT", "progressive", {"progress": progress, "final": final})
    except ApplicationError as e:
        emit("RESULT", "progressive", error_doc(e))

    pending = session.call(prefix + "slow", 30)
    await asyncio.sleep(0.5)
    pending.cancel()
    try:
        await pending
        emit("RESULT", "slow", {"finished": True})
    except asyncio.CancelledError:
        emit("RESULT", "slow", {"cancelled": True})
    except ApplicationError as e:
        emit("RESULT", "slow", error_doc(e))

    await call("fail")
    await call("bigint")
    emit("DONE")


async def run_single_call(session, procedure, args_json):
    args = json.loads(args_json)
    try:
        res = await session.call(procedure, *args)
    except ApplicationError as e:
        emit("ERROR", error_doc(e))
    else:
        if isinstance(res, CallResult):
            emit("RESULT", {"args": list(res.results), "kwargs": res.kwresults})
        else:
            emit("RESULT", {"args": [] if res is None else [res], "kwargs": {}})
    emit("DONE")


def main(argv):
    if len(argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    url, realm, serializer, mode = argv[1:5]
    rest = argv[5:]
    component = Component(transports=[transport_for(url, serializer)], realm=realm)

    @component.on_join
    async def joined(session, details):
        try:
            if mode == "callee":
                await register_callee(session, serializer)
                return
            if mode == "caller":
                await run_caller(session, serializer, int(rest[0]) if rest else 0)
            elif mode == "call":
                await run_single_call(session, rest[0], rest[1] if len(rest) > 1 else "[]")
            else:
                emit("FATAL", {"error": f"unknown mode {mode}"})
        except Exception as e:  # report, never hang silently
            emit("FATAL", {"error": repr(e)})
        session.leave()

    @component.on_connectfailure
    def connect_failed(component, error):
        emit("FATAL", {"error": f"connect failed: {error!r}"})

    run([component], log_level="warn")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
