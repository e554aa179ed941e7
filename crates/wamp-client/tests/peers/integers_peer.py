"""Autobahn|Python peer for the integer and hostile-payload interop test of wamp-client.

Usage: integers_peer.py URL REALM SERIALIZER

Registers under ``com.interop.int.`` and prints ``READY``:

    values()       returns INTEGERS as arguments and {"neg": -2**64 - 1} as keyword arguments
    echo(*args)    returns its arguments and {"same": args == INTEGERS} (what Python decoded)
    publish()      publishes to com.interop.int.event (acknowledged): INTEGERS, then a list
                   nested DEEP levels (more than the Rust client accepts), then "after"
"""

import sys

import txaio

txaio.use_asyncio()

from autobahn.asyncio.component import Component, run  # noqa: E402
from autobahn.wamp.types import CallResult, PublishOptions  # noqa: E402

INTEGERS = [-(2**63) - 1, -(2**64), -(2**64) - 1, 2**64, -(2**200), 2**200]
DEEP = 300


def deep():
    value = []
    for _ in range(DEEP):
        value = [value]
    return value


def main(argv):
    url, realm, serializer = argv[1:4]
    kind = "rawsocket" if url.startswith("rs://") else "websocket"
    transport = {"type": kind, "url": url, "serializers": [serializer], "max_retries": 0}
    component = Component(transports=[transport], realm=realm)

    @component.on_join
    async def joined(session, details):
        prefix = "com.interop.int."

        def values():
            return CallResult(*INTEGERS, neg=-(2**64) - 1)

        def echo(*args):
            return CallResult(*args, same=list(args) == INTEGERS)

        async def publish():
            ack = PublishOptions(acknowledge=True)
            await session.publish(prefix + "event", *INTEGERS, options=ack)
            await session.publish(prefix + "event", deep(), options=ack)
            await session.publish(prefix + "event", "after", options=ack)
            return 3

        try:
            await session.register(values, prefix + "values")
            await session.register(echo, prefix + "echo")
            await session.register(publish, prefix + "publish")
        except Exception as e:  # report, never hang silently
            print("FATAL", repr(e), flush=True)
            return
        print("READY", flush=True)

    @component.on_connectfailure
    def connect_failed(component, error):
        print("FATAL connect failed:", repr(error), flush=True)

    run([component], log_level="warn")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
