"""A hostile Autobahn|Python peer on the secured XBR market realm, for xbrd's hostile-peer test.

Usage:
    attacker.py --url URL --realm REALM --member-key HEX --victim-paying-channel HEX
                --victim-member ADR --topic URI [--offers N] [--flood N] [--timeout S]

URL is the router's WebSocket address for market delegates (WAMP-cryptosign through the market
maker's dynamic authenticator, or anonymous); every session speaks CBOR.

The attacker has two sessions:
  * anonymous: no credentials;
  * member: a fresh Ed25519 key, first login signed (EIP712MarketMemberLogin) with HEX, the wallet
    key of a member of the market that is NOT the victim. It prints ``JOINED {"authrole", "authid"}``.

The member session subscribes to ``xbr.marketmaker.on_offer_placed`` and waits for N offers
(default 3) placed by other sellers (the victims). Then every attack below runs once and prints one
line ``ATTACK {"attack": name, "outcome": "refused"|"accepted", "error": uri|null, "message": str,
"count": n}`` (for attacks repeated over the victim's offers, ``count`` attempts and the outcome of
the last; ``errors`` lists every distinct error URI):

  anonymous_subscribe_offers     subscribe to xbr.marketmaker.on_offer_placed
  anonymous_revoke_offer         revoke_offer(key) for every victim offer seen
  anonymous_place_offer          place_offer for a victim's key, price 1 base unit
  anonymous_open_channel         open_channel for the member's own address
  anonymous_publish_topic        publish (acknowledged) to the buyer's topic
  anonymous_call_authenticator   call xbr.marketmaker.authenticator.authenticate
  member_revoke_offer            revoke_offer(key) for every victim offer seen
  member_place_offer_below_price place_offer for a victim's key as the victim's delegate, price 1
  member_place_offer_as_victim   the same for a fresh key id (no duplicate to trip over)
  member_close_victim_channel    close_channel on the victim's paying channel
  member_open_channel_for_victim open_channel in the name of the victim's member (ADR)
  member_register_buy_key        register xbr.marketmaker.buy_key (held by the maker)
  member_register_victim_sell    register xbr.provider.<victim provider id>.sell (held by the victim)
  member_register_maker_probe    register xbr.marketmaker.attacker_probe (held by nobody)
  member_register_victim_probe   register xbr.provider.<victim provider id>.attacker_probe (held
                                 by nobody): with the two above, shows whether a REGISTER is
                                 refused for the URI itself, whoever holds it
  member_publish_offer_placed    publish (acknowledged) to xbr.marketmaker.on_offer_placed
  member_call_authenticator      call xbr.marketmaker.authenticator.authenticate
  member_publish_bigneg          publish (acknowledged) to the buyer's topic an event whose
                                 argument is -(2**64 + 5), below -2**63 ("accepted" is expected:
                                 the router forwards it; the buyer must survive it)
  member_flood_topic             publish --flood events (default 10000) to the buyer's topic:
                                 alternately a big negative integer and a fake encrypted payload
                                 (random key id); the last one acknowledged
  forged_first_login             first login with a fresh key, wallet_address = the member, and a
                                 signature by another key (must be refused: the join fails with
                                 the ABORT reason as "error")

Finally it prints ``DONE`` and exits 0. Any failure of the script itself prints
``FATAL {"error": ...}`` and exits 1.
"""

import argparse
import asyncio
import binascii
import json
import os
import sys
from urllib.parse import urlparse

import txaio

txaio.use_asyncio()

import eth_account  # noqa: E402
from autobahn.asyncio.wamp import ApplicationSession  # noqa: E402
from autobahn.asyncio.websocket import WampWebSocketClientFactory  # noqa: E402
from autobahn.wamp import cryptosign  # noqa: E402
from autobahn.wamp.exception import ApplicationError  # noqa: E402
from autobahn.wamp.serializer import CBORSerializer  # noqa: E402
from autobahn.wamp.types import ComponentConfig, PublishOptions  # noqa: E402
from xbr._eip712_market_member_login import sign_eip712_market_member_login  # noqa: E402

BIG_NEGATIVE = -(2**64 + 5)
ONE_BASE_UNIT = (1).to_bytes(32, "big")


def out(tag, payload=None):
    print(tag if payload is None else "{} {}".format(tag, json.dumps(payload)), flush=True)


class JoinRefused(Exception):
    """The router answered HELLO with ABORT (or the session left before joining)."""

    def __init__(self, reason, message):
        super().__init__("{}: {}".format(reason, message))
        self.reason = reason
        self.message = message


async def join(url, realm, key=None, authextra=None):
    """One CBOR WebSocket session; anonymous without `key`, else WAMP-cryptosign."""
    loop = asyncio.get_running_loop()
    joined = loop.create_future()

    class Session(ApplicationSession):
        def onConnect(self):
            if key is None:
                self.join(realm, authmethods=["anonymous"])
            else:
                self.join(realm, authmethods=["cryptosign"], authextra=authextra)

        def onChallenge(self, challenge):
            return key.sign_challenge(challenge)

        def onJoin(self, details):
            if not joined.done():
                joined.set_result((self, details))

        def onLeave(self, details):
            if not joined.done():
                joined.set_exception(JoinRefused(details.reason, details.message))
            self.disconnect()

        def onDisconnect(self):
            if not joined.done():
                joined.set_exception(JoinRefused("disconnected", "transport closed before the join"))

    parsed = urlparse(url)
    factory = WampWebSocketClientFactory(
        lambda: Session(ComponentConfig(realm)), url=url, serializers=[CBORSerializer()]
    )
    await loop.create_connection(factory, parsed.hostname, parsed.port)
    return await joined


def first_login_authextra(key, member_key, signer_key=None):
    """authextra of a first login: the member's wallet signs (member, client pubkey)."""
    member = eth_account.Account.from_key(member_key).address
    member_bytes = binascii.a2b_hex(member[2:])
    pubkey = key.public_key(binary=True)
    signature = sign_eip712_market_member_login(signer_key or member_key, member_bytes, pubkey)
    return {"pubkey": key.public_key(), "wallet_address": member_bytes, "signature": signature}


class Outcome:
    """The outcome of one attack, possibly repeated."""

    def __init__(self, name):
        self.name = name
        self.count = 0
        self.errors = []
        self.error = None
        self.message = ""

    async def attempt(self, coro):
        self.count += 1
        try:
            await coro
            self.error = None
            self.message = ""
        except ApplicationError as e:
            self.error = e.error
            self.message = e.args[0] if e.args else ""
            if e.error not in self.errors:
                self.errors.append(e.error)

    def report(self):
        out(
            "ATTACK",
            {
                "attack": self.name,
                "outcome": "refused" if self.error else "accepted",
                "error": self.error,
                "errors": self.errors,
                "message": str(self.message),
                "count": self.count,
            },
        )


async def attack(name, coro):
    outcome = Outcome(name)
    await outcome.attempt(coro)
    outcome.report()


async def attack_each(name, offers, make_coro):
    outcome = Outcome(name)
    for offer in offers:
        await outcome.attempt(make_coro(offer))
    outcome.report()


async def publish_acked(session, topic, *args):
    return await session.publish(topic, *args, options=PublishOptions(acknowledge=True))


def place_offer(session, offer, delegate, key_id=None):
    """place_offer for the victim's key id (or `key_id`) with price 1, an offer the victim never
    signed."""
    return session.call(
        "xbr.marketmaker.place_offer",
        key_id or offer["key"],
        offer["api"],
        offer["uri"],
        offer["valid_from"],
        delegate,
        offer["signature"],
        price=ONE_BASE_UNIT,
        provider_id=offer.get("seller_authid"),
    )


def open_channel(session, member, market):
    return session.call(
        "xbr.marketmaker.open_channel",
        member,
        market,
        os.urandom(16),
        1337,
        1,
        b"\x00" * 20,
        1,
        member,
        b"\x00" * 20,
        member,
        ONE_BASE_UNIT,
        b"\x00" * 65,
    )


def close_channel(session, channel):
    return session.call(
        "xbr.marketmaker.close_channel",
        channel,
        1337,
        1,
        b"\x00" * 20,
        ONE_BASE_UNIT,
        1,
        True,
        b"\x00" * 65,
    )


async def flood(session, topic, count):
    for i in range(count - 1):
        if i % 2 == 0:
            session.publish(topic, BIG_NEGATIVE - i)
        else:
            session.publish(topic, os.urandom(16), "cbor", os.urandom(48))
        if i % 500 == 0:
            await asyncio.sleep(0)
    await publish_acked(session, topic, BIG_NEGATIVE)


async def run(args):
    member_key = binascii.a2b_hex(args.member_key.removeprefix("0x"))
    member_address = binascii.a2b_hex(eth_account.Account.from_key(member_key).address[2:])
    key = cryptosign.CryptosignKey.from_bytes(os.urandom(32))
    member, details = await join(
        args.url, args.realm, key, first_login_authextra(key, member_key)
    )
    out("JOINED", {"authrole": details.authrole, "authid": details.authid})

    offers = []
    enough = asyncio.get_running_loop().create_future()

    def on_offer(offer, *_args, **_kwargs):
        if offer.get("seller") == member_address:
            return
        offers.append(offer)
        if len(offers) >= args.offers and not enough.done():
            enough.set_result(None)

    await member.subscribe(on_offer, "xbr.marketmaker.on_offer_placed")
    await asyncio.wait_for(enough, args.timeout)
    victim = offers[0]
    out("VICTIM", {"seller": "0x" + victim["seller"].hex(), "provider_id": victim["seller_authid"]})

    anonymous, details = await join(args.url, args.realm)
    out("JOINED", {"authrole": details.authrole, "authid": details.authid})
    market = b"\x00" * 16

    await attack(
        "anonymous_subscribe_offers",
        anonymous.subscribe(lambda *a, **kw: None, "xbr.marketmaker.on_offer_placed"),
    )
    await attack_each(
        "anonymous_revoke_offer",
        offers,
        lambda o: anonymous.call("xbr.marketmaker.revoke_offer", o["key"]),
    )
    await attack("anonymous_place_offer", place_offer(anonymous, victim, victim["seller"]))
    await attack("anonymous_open_channel", open_channel(anonymous, member_address, market))
    await attack("anonymous_publish_topic", publish_acked(anonymous, args.topic, BIG_NEGATIVE))
    await attack(
        "anonymous_call_authenticator",
        anonymous.call(
            "xbr.marketmaker.authenticator.authenticate",
            args.realm,
            None,
            {"authmethod": "cryptosign", "authextra": {"pubkey": key.public_key()}},
        ),
    )

    await attack_each(
        "member_revoke_offer",
        offers,
        lambda o: member.call("xbr.marketmaker.revoke_offer", o["key"]),
    )
    await attack("member_place_offer_below_price", place_offer(member, victim, victim["seller"]))
    await attack(
        "member_place_offer_as_victim",
        place_offer(member, victim, victim["seller"], os.urandom(16)),
    )
    paying = binascii.a2b_hex(args.victim_paying_channel.removeprefix("0x").replace("-", ""))
    await attack("member_close_victim_channel", close_channel(member, paying))
    victim_member = binascii.a2b_hex(args.victim_member.removeprefix("0x"))
    await attack("member_open_channel_for_victim", open_channel(member, victim_member, market))
    await attack(
        "member_register_buy_key",
        member.register(lambda *a, **kw: None, "xbr.marketmaker.buy_key"),
    )
    await attack(
        "member_register_victim_sell",
        member.register(
            lambda *a, **kw: None, "xbr.provider.{}.sell".format(victim["seller_authid"])
        ),
    )
    for name, uri in [
        ("member_register_maker_probe", "xbr.marketmaker.attacker_probe"),
        (
            "member_register_victim_probe",
            "xbr.provider.{}.attacker_probe".format(victim["seller_authid"]),
        ),
    ]:
        await attack(name, member.register(lambda *a, **kw: None, uri))
    await attack(
        "member_publish_offer_placed",
        publish_acked(member, "xbr.marketmaker.on_offer_placed", victim),
    )
    await attack(
        "member_call_authenticator",
        member.call(
            "xbr.marketmaker.authenticator.authenticate",
            args.realm,
            None,
            {"authmethod": "cryptosign", "authextra": {"pubkey": key.public_key()}},
        ),
    )
    await attack("member_publish_bigneg", publish_acked(member, args.topic, BIG_NEGATIVE))
    outcome = Outcome("member_flood_topic")
    await outcome.attempt(flood(member, args.topic, args.flood))
    outcome.count = args.flood
    outcome.report()

    forged_key = cryptosign.CryptosignKey.from_bytes(os.urandom(32))
    other_wallet = os.urandom(32)
    outcome = Outcome("forged_first_login")
    outcome.count = 1
    try:
        forged, details = await join(
            args.url, args.realm, forged_key, first_login_authextra(forged_key, member_key, other_wallet)
        )
        outcome.message = "joined as {} {}".format(details.authrole, details.authid)
        forged.leave()
    except JoinRefused as e:
        outcome.error = e.reason
        outcome.errors = [e.reason]
        outcome.message = e.message
    outcome.report()

    anonymous.leave()
    member.leave()
    out("DONE")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--realm", required=True)
    parser.add_argument("--member-key", required=True)
    parser.add_argument("--victim-paying-channel", required=True)
    parser.add_argument("--victim-member", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--offers", type=int, default=3)
    parser.add_argument("--flood", type=int, default=10000)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    try:
        asyncio.run(run(args))
    except Exception as e:  # noqa: BLE001 - any failure of the script is reported as FATAL
        out("FATAL", {"error": "{}: {}".format(type(e).__name__, e)})
        sys.exit(1)


if __name__ == "__main__":
    main()
