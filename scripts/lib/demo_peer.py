"""Autobahn|Python side of scripts/demo.sh.

  demo_peer.py backend URL REALM  registers xbrd.demo.add2, prints "ready", serves until killed
  demo_peer.py call URL REALM PROCEDURE INT...
                                  calls PROCEDURE(INT...), prints "PROCEDURE(INT...) = RESULT";
                                  exits 0 if the call succeeded, 1 if not
"""

import asyncio
import sys

from autobahn.asyncio.wamp import ApplicationRunner, ApplicationSession


class Backend(ApplicationSession):
    async def onJoin(self, details):
        def add2(a, b):
            print(f"backend: add2({a}, {b}) called", flush=True)
            return a + b

        await self.register(add2, "xbrd.demo.add2")
        print(f"ready: registered xbrd.demo.add2 on realm {details.realm}", flush=True)


class Caller(ApplicationSession):
    async def onJoin(self, details):
        procedure = self.config.extra["procedure"]
        args = [int(x) for x in self.config.extra["args"]]
        try:
            result = await self.call(procedure, *args)
            print(f"{procedure}({', '.join(map(str, args))}) = {result}", flush=True)
            self.config.extra["ok"] = True
        finally:
            self.leave()

    def onDisconnect(self):
        asyncio.get_event_loop().stop()


def main():
    if len(sys.argv) < 4 or sys.argv[1] not in ("backend", "call") or (
        sys.argv[1] == "call" and len(sys.argv) < 5
    ):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    mode, url, realm = sys.argv[1:4]
    if mode == "backend":
        ApplicationRunner(url, realm).run(Backend)
    else:
        extra = {"procedure": sys.argv[4], "args": sys.argv[5:], "ok": False}
        ApplicationRunner(url, realm, extra=extra).run(Caller)
        sys.exit(0 if extra["ok"] else 1)


if __name__ == "__main__":
    main()
