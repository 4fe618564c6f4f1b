"""Helpers of the privacy tests: a person with data in every store, and a scan of all of Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
import redis.asyncio as aioredis

from chat.channels import dm_channel, event_channel, team_channel
from chat.grants import Grants
from chat.grants import Role as ChatRole
from chat.ids import EventId as ChatEventId
from chat.ids import ParticipantId as ChatPid
from chat.ids import TeamId as ChatTeamId
from chat.store import ChatStore
from signalling import effects as fx
from signalling.events import Connect
from signalling.ids import ConnectionId, EventId, ParticipantId, SpaceId
from signalling.kinds import Role
from signalling.members import Member
from signalling.runtime import SignallingRuntime, StaticDirectory
from signalling.venue_log import LogEntry, VenueLog, encode_event
from tests.control_api.support import Api
from tests.control_api.test_tickets import Shop

CONSENT = {"version": "2026-05", "terms": True, "recording": False, "analytics": False}
T0_MS = 1_800_000_000_000
MINUTE_MS = 60_000


@dataclass
class Person:
    name: str
    email: str
    ticket: dict[str, Any]
    participant_id: str
    token_claims: dict[str, Any]


async def buy_and_join(
    shop: Shop, type_id: str, api: Api, name: str, email: str, consent: dict[str, Any] | None = CONSENT
) -> Person:
    """Order one ticket as ``name``/``email`` and exchange it for a join token (with consent)."""
    reply = await shop.order(type_id, buyer={"name": name, "email": email})
    assert reply.status == 201, reply
    ticket = reply.body["tickets"][0]
    body = {} if consent is None else {"consent": consent}
    token = await api.post(
        shop.base + "/join-tokens", body, headers={"Authorization": f"Ticket {ticket['code']}"}, expect=201
    )
    claims = jwt.decode(token.body["token"], options={"verify_signature": False})
    return Person(name, email, ticket, token.body["participant_id"], claims)


async def live_traffic(
    redis: aioredis.Redis, event_id: str, team_id: str, zelda: Person, bob: Person, space: str
) -> None:
    """What a live event leaves behind, written by the real chat store and signalling runtime:
    chat in the event, team and a direct channel; venue-log connects; analytics events."""
    chat = ChatStore(redis)
    event = ChatEventId(event_id)
    z = Grants(
        ChatPid(zelda.participant_id), event, ChatRole.ATTENDEE, zelda.name, frozenset({ChatTeamId(team_id)})
    )
    b = Grants(ChatPid(bob.participant_id), event, ChatRole.ATTENDEE, bob.name)
    await chat.append_message(event_channel(event), z, "hello from Zelda", T0_MS, client_id="c-1")
    await chat.append_message(event_channel(event), b, "hello from Bob", T0_MS)
    await chat.append_message(team_channel(event, team_id), z, "team plans", T0_MS)
    await chat.append_message(dm_channel(event, z.participant_id, b.participant_id), z, "psst", T0_MS)
    await chat.mute(event_channel(event), z.participant_id, 0)

    runtime = SignallingRuntime(redis, StaticDirectory({}), instance="inst-a")
    venue_log = VenueLog(redis, EventId(event_id))
    members = {
        zelda.participant_id: Member(
            ParticipantId(zelda.participant_id),
            EventId(event_id),
            zelda.name,
            Role.ATTENDEE,
            profiling=bool(zelda.token_claims["anl"]),
        ),
        bob.participant_id: Member(
            ParticipantId(bob.participant_id), EventId(event_id), bob.name, Role.ATTENDEE
        ),
    }
    step = 0
    for person, minutes in ((zelda, 10), (bob, 20)):
        member = members[person.participant_id]
        connect = Connect(ConnectionId(f"inst-a/{person.participant_id}"), member)
        await venue_log.append(encode_event(connect, "inst-a"))
        pid = ParticipantId(person.participant_id)
        step += 1
        await runtime.execute(
            EventId(event_id),
            LogEntry(f"{step}-0", "inst-a", connect),
            [
                fx.Analytics(fx.AnalyticsKind.ARRIVE, T0_MS, pid),
                fx.Analytics(fx.AnalyticsKind.JOIN, T0_MS, pid, SpaceId(space)),
            ],
        )
        step += 1
        await runtime.execute(
            EventId(event_id),
            LogEntry(f"{step}-0", "inst-a", None),
            [fx.Analytics(fx.AnalyticsKind.DEPART, T0_MS + minutes * MINUTE_MS, pid)],
        )


async def keyspace(redis: aioredis.Redis) -> dict[bytes, bytes]:
    """Every key of every type with everything it holds, flattened to bytes."""
    found: dict[bytes, bytes] = {}
    async for key in redis.scan_iter(count=1000):
        kind = (await redis.type(key)).decode()
        parts: list[Any] = [key]
        if kind == "string":
            parts.append(await redis.get(key))
        elif kind == "hash":
            for field, value in (await redis.hgetall(key)).items():
                parts += [field, value]
        elif kind == "list":
            parts += await redis.lrange(key, 0, -1)
        elif kind == "set":
            parts += list(await redis.smembers(key))
        elif kind == "zset":
            parts += await redis.zrange(key, 0, -1)
        elif kind == "stream":
            for entry_id, fields in await redis.xrange(key):
                parts.append(entry_id)
                for field, value in fields.items():
                    parts += [field, value]
            for group in await redis.xinfo_groups(key):
                parts.append(group["name"])
        else:
            raise AssertionError(f"unexpected Redis type {kind} of {key!r}")
        found[key] = b"\x00".join(p if isinstance(p, bytes) else str(p).encode() for p in parts)
    return found


async def traces(redis: aioredis.Redis, needles: list[str]) -> list[tuple[str, bytes]]:
    """(needle, key) for each key whose name or contents hold one of ``needles``."""
    hits = []
    for key, blob in (await keyspace(redis)).items():
        lowered = blob.lower()
        hits += [(n, key) for n in needles if n.lower().encode() in lowered]
    return hits
