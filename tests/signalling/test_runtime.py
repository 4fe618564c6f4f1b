"""The signalling runtime across two instances sharing one Redis, with real sockets on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestServer

from loadtest.sio import LeanClient, SocketIOError
from signalling import effects as fx
from signalling.gateway import Admitted, Connection, Gateway, GatewayError
from signalling.ids import ConnectionId, EventId, ParticipantId, SpaceId, TeamId
from signalling.kinds import Role, SpaceKind
from signalling.members import Member
from signalling.runtime import SignallingRuntime, StaticDirectory, analytics_key
from signalling.spaces import SpaceConfig

EVENT = EventId("hack-1")
SPACES = [
    SpaceConfig(SpaceId("stage"), SpaceKind.STAGE, 50, title="Main stage"),
    SpaceConfig(SpaceId("hall"), SpaceKind.ROOM, 2, title="Hall"),
    SpaceConfig(SpaceId("team-a"), SpaceKind.TEAM_ROOM, 10, title="Team A", team_id=TeamId("a")),
]


class TokenAdmitter:
    """Tokens are ``<participant>:<role>[:<team>]`` here; real ones are verified JWTs."""

    async def admit(self, token: str, now_s: float) -> Admitted:
        parts = token.split(":")
        if len(parts) < 2:
            raise GatewayError("token_invalid", "not a token")
        teams = frozenset({TeamId(parts[2])}) if len(parts) > 2 else frozenset()
        member = Member(ParticipantId(parts[0]), EVENT, parts[0].title(), Role(parts[1]), teams)
        return Admitted(member=member, org_id="org", token_id=token, expires_at_s=now_s + 600)


@dataclass
class Instance:
    runtime: SignallingRuntime
    server: TestServer
    redis: aioredis.Redis

    @property
    def url(self) -> str:
        return str(self.server.make_url("/"))


@dataclass
class Client:
    lean: LeanClient
    events: list[tuple[str, Any]] = field(default_factory=list)

    def named(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        for _ in range(int(timeout_s / 0.02)):
            if predicate():
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"timed out; saw {[e for e, _ in self.events]}")


async def _instance(redis_url: str, name: str) -> Instance:
    client = aioredis.Redis.from_url(redis_url)
    runtime = SignallingRuntime(
        client,
        StaticDirectory({EVENT: SPACES}),
        instance=name,
        tick_ms=100,
        alive_ttl_ms=600,
        venue_sync_ms=60_000,  # the tests call sync_venues themselves
    )
    gateway = Gateway(TokenAdmitter(), runtime)
    app = web.Application()
    gateway.attach(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    await runtime.start(gateway)
    return Instance(runtime, server, client)


@pytest.fixture
async def instances(redis_client: aioredis.Redis, redis_url: str) -> AsyncIterator[list[Instance]]:
    made = [await _instance(redis_url, "sig-a"), await _instance(redis_url, "sig-b")]
    yield made
    for inst in made:
        await inst.runtime.stop()
        await inst.server.close()
        await inst.redis.aclose()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def _connect(session: aiohttp.ClientSession, inst: Instance, token: str) -> Client:
    client = Client(LeanClient(session, lambda n, d: None))
    client.lean = LeanClient(session, lambda n, d: client.events.append((n, d)))
    await client.lean.connect(inst.url, {"token": token})
    return client


async def test_participants_on_two_instances_see_each_other(
    instances: list[Instance], session: aiohttp.ClientSession, redis_client: aioredis.Redis
) -> None:
    a, b = instances
    alice = await _connect(session, a, "alice:attendee")
    bob = await _connect(session, b, "bob:attendee")
    await alice.wait_for(lambda: bool(alice.named("welcome")) and bool(alice.named("space_snapshot")))
    assert alice.named("welcome")[0]["space_id"] == "lobby"

    assert await alice.lean.call("join_space", {"space_id": "hall"}) == {"ok": True, "data": None}
    assert (await bob.lean.call("join_space", {"space_id": "hall"}))["ok"] is True
    await alice.wait_for(
        lambda: any(d["entry"]["participant_id"] == "bob" for d in alice.named("presence_joined"))
    )
    hall = bob.named("space_snapshot")[-1]
    assert hall["space_id"] == "hall"
    assert [o["participant_id"] for o in hall["occupants"]] == ["alice", "bob"]
    assert "camera" in hall["may_publish"]

    # the counts every participant of the event sees, whichever instance they are on
    await bob.wait_for(lambda: any(d == {"space_id": "hall", "count": 2} for d in bob.named("space_count")))

    # capacity 2: a third participant is refused with a structured error, on either instance
    carol = await _connect(session, a, "carol:attendee")
    refused = await carol.lean.call("join_space", {"space_id": "hall"})
    assert refused["ok"] is False
    assert refused["error"]["code"] == "space_full"

    # the two replicas agree exactly
    venue_a = a.runtime.replicas[EVENT].venue
    venue_b = b.runtime.replicas[EVENT].venue
    assert venue_a is not None and venue_b is not None
    assert list(venue_a.spaces[SpaceId("hall")].occupants) == list(venue_b.spaces[SpaceId("hall")].occupants)

    # every state change reached the analytics stream once, appended by the instance that caused it
    entries = await redis_client.xrange(analytics_key(EVENT))
    kinds = [(f[b"participant"].decode(), f[b"kind"].decode()) for _, f in entries]
    assert kinds.count(("alice", "join")) == 1
    assert kinds.count(("bob", "join")) == 1
    ids = [f[b"id"] for _, f in entries]
    assert len(ids) == len(set(ids))

    # operators see live participants per event and space (the same figure on every instance)
    from prometheus_client import REGISTRY

    b.runtime.export_live_counts()
    live = REGISTRY.get_sample_value("venuekit_signal_live_participants", {"event": EVENT, "space": "hall"})
    assert live == 2
    assert (REGISTRY.get_sample_value("venuekit_signal_analytics_events_total", {"kind": "join"}) or 0) >= 2
    for client in (alice, bob, carol):
        await client.lean.close()


class OfferingMedia:
    """A media port that offers the moment a participant is subscribed, as a node already
    holding the space's tracks can (the real bridge offers from a task, a little later)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def apply(
        self, effect: fx.MediaEffect, connections: tuple[ConnectionId, ...], event_id: EventId
    ) -> None:
        if isinstance(effect, fx.MediaSubscribe):
            for cid in connections:
                offer = {"sdp": "v=0", "tracks": [], "space_id": effect.space_id}
                await self.gateway.emit("media_offer", offer, to=cid.split("/", 1)[1])

    async def event(self, conn: Connection, name: str, payload: Any) -> Any:
        return None


async def test_a_space_snapshot_reaches_the_socket_before_its_media_offer(
    redis_client: aioredis.Redis, redis_url: str, session: aiohttp.ClientSession
) -> None:
    """The browser starts its peer connections afresh when it learns where it is (the
    snapshot): an offer that came first was answered on a connection then thrown away, and the
    participant never received anyone's media (the intermittent failure of
    tests/web/test_room_media.py)."""
    inst = await _instance(redis_url, "sig-a")
    try:
        assert inst.runtime.gateway is not None
        inst.runtime.attach_media(OfferingMedia(inst.runtime.gateway))
        ada = await _connect(session, inst, "ada:attendee")
        await ada.wait_for(lambda: bool(ada.named("space_snapshot")))
        assert (await ada.lean.call("join_space", {"space_id": "hall"}))["ok"] is True
        await ada.wait_for(lambda: bool(ada.named("media_offer")))
        order = [
            (name, data["space_id"]) for name, data in ada.events if name in ("space_snapshot", "media_offer")
        ]
        assert order == [("space_snapshot", "lobby"), ("space_snapshot", "hall"), ("media_offer", "hall")]
        await ada.lean.close()
    finally:
        await inst.runtime.stop()
        await inst.server.close()
        await inst.redis.aclose()


async def test_venue_edits_reach_every_instance_and_empty_removed_spaces(
    instances: list[Instance], session: aiohttp.ClientSession
) -> None:
    a, b = instances
    alice = await _connect(session, a, "alice:attendee")
    bob = await _connect(session, b, "bob:attendee")
    assert (await alice.lean.call("join_space", {"space_id": "hall"}))["ok"] is True
    await bob.wait_for(lambda: bool(bob.named("welcome")))

    # the organiser removes the hall, shrinks the stage and adds a garden in the control API
    edited = [
        SpaceConfig(SpaceId("stage"), SpaceKind.STAGE, 5, title="Main stage"),
        SPACES[2],
        SpaceConfig(SpaceId("garden"), SpaceKind.ROOM, 8, title="Garden"),
    ]
    for inst in instances:
        directory = inst.runtime._directory
        assert isinstance(directory, StaticDirectory)
        directory.set_spaces(EVENT, edited)
    assert await b.runtime.sync_venues() == 1
    await bob.wait_for(lambda: bool(bob.named("venue")))
    shown = {s["space_id"]: s for s in bob.named("venue")[-1]["spaces"]}
    assert set(shown) == {"lobby", "stage", "team-a", "garden"}
    assert shown["stage"]["capacity"] == 5 and shown["garden"]["title"] == "Garden"

    # alice was in the hall: told why, and back in the lobby
    await alice.wait_for(lambda: bool(alice.named("space_ended")))
    await alice.wait_for(lambda: alice.named("space_snapshot")[-1]["space_id"] == "lobby")
    assert (await bob.lean.call("join_space", {"space_id": "garden"}))["ok"] is True
    refused = await alice.lean.call("join_space", {"space_id": "hall"})
    assert refused["error"]["code"] == "unknown_space"

    # both replicas changed at the same point of the log; a second sync changes nothing
    for inst in instances:
        venue = inst.runtime.replicas[EVENT].venue
        assert venue is not None
        assert set(venue.configured_spaces()) == set(edited)
    assert await a.runtime.sync_venues() == 0
    for client in (alice, bob):
        await client.lean.close()


async def test_bad_events_get_a_structured_error_and_change_nothing(
    instances: list[Instance], session: aiohttp.ClientSession
) -> None:
    a, _ = instances
    mallory = await _connect(session, a, "mallory:attendee")
    for name, payload in [
        ("no_such_event", {}),
        ("join_space", {"space_id": 7}),
        ("join_space", {"space_id": "hall", "extra": True}),
        ("end_event", {"reason": "bye"}),
        ("join_space", {"space_id": "team-a"}),
    ]:
        reply = await mallory.lean.call(name, payload)
        assert reply["ok"] is False, (name, payload)
        assert set(reply["error"]) >= {"code", "message"}
    codes = [e["code"] for e in mallory.named("error")]
    assert "forbidden" in codes and "not_team_member" in codes
    venue = a.runtime.replicas[EVENT].venue
    assert venue is not None and not venue.ended
    assert venue.location_of(ParticipantId("mallory")) == "lobby"
    await mallory.lean.close()


async def test_second_tab_and_reconnect_keep_one_presence(
    instances: list[Instance], session: aiohttp.ClientSession
) -> None:
    a, b = instances
    tab1 = await _connect(session, a, "dana:attendee")
    await tab1.lean.call("join_space", {"space_id": "hall"})
    tab2 = await _connect(session, b, "dana:attendee")
    await tab2.wait_for(lambda: bool(tab2.named("welcome")))
    welcome = tab2.named("welcome")[0]
    assert (welcome["participant_id"], welcome["space_id"], welcome["resumed"]) == ("dana", "hall", True)
    hall = next(s for s in welcome["spaces"] if s["space_id"] == "hall")
    assert (hall["kind"], hall["title"], hall["capacity"], hall["count"]) == ("room", "Hall", 2, 1)
    venue = b.runtime.replicas[EVENT].venue
    assert venue is not None
    assert list(venue.spaces[SpaceId("hall")].occupants) == ["dana"]
    await tab1.lean.drop()
    await tab2.lean.close()
    again = await _connect(session, a, "dana:attendee")
    await again.wait_for(lambda: bool(again.named("welcome")))
    assert again.named("welcome")[0]["resumed"] is True
    assert list(venue.spaces[SpaceId("hall")].occupants) == ["dana"]
    await again.lean.close()


async def test_sockets_of_a_dead_instance_are_reaped(
    redis_client: aioredis.Redis, redis_url: str, session: aiohttp.ClientSession
) -> None:
    survivor = await _instance(redis_url, "sig-live")
    doomed = await _instance(redis_url, "sig-dead")
    try:
        erin = await _connect(session, doomed, "erin:attendee")
        await erin.lean.call("join_space", {"space_id": "hall"})
        watcher = await _connect(session, survivor, "frank:attendee")
        await watcher.lean.call("join_space", {"space_id": "hall"})
        # the doomed instance dies without saying goodbye: no Disconnect, its key just lapses
        for task in doomed.runtime._tasks:
            task.cancel()
        await asyncio.gather(*doomed.runtime._tasks, return_exceptions=True)
        await erin.lean.drop()
        await watcher.wait_for(
            lambda: any(
                d["entry"]["participant_id"] == "erin" and not d["entry"]["connected"]
                for d in watcher.named("presence_updated")
            ),
            timeout_s=15,
        )
        venue = survivor.runtime.replicas[EVENT].venue
        assert venue is not None and not venue.is_online(ParticipantId("erin"))
        await watcher.lean.close()
    finally:
        for inst in (survivor, doomed):
            for replica in inst.runtime.replicas.values():
                await replica.stop()
            await inst.server.close()
            await inst.redis.aclose()


async def test_unknown_event_is_refused(
    redis_url: str, session: aiohttp.ClientSession, redis_client: aioredis.Redis
) -> None:
    inst = await _instance(redis_url, "sig-x")
    inst.runtime._directory = StaticDirectory({})
    try:
        client = LeanClient(session, lambda *_: None)
        with pytest.raises(SocketIOError) as info:
            await client.connect(inst.url, {"token": "gus:attendee"})
        assert info.value.data["code"] == "unknown_event"
    finally:
        await inst.runtime.stop()
        await inst.server.close()
        await inst.redis.aclose()


def test_log_entries_round_trip() -> None:
    from signalling.events import ActiveSpeakerObserved, Connect, Disconnect, RawClientEvent, Tick
    from signalling.ids import ConnectionId
    from signalling.venue_log import decode_entry, encode_config, encode_event

    member = Member(
        ParticipantId("p"), EVENT, "P", Role.SPEAKER, frozenset({TeamId("t")}), frozenset({"stage"})
    )
    for event in [
        Connect(ConnectionId("i/1"), member),
        Disconnect(ConnectionId("i/1")),
        RawClientEvent(ConnectionId("i/1"), "react", {"reaction": "clap"}),
        Tick(),
        ActiveSpeakerObserved(SpaceId("stage"), ParticipantId("p")),
        ActiveSpeakerObserved(SpaceId("stage"), None),
    ]:
        fields = {k: v.encode() if isinstance(v, str) else v for k, v in encode_event(event, "i").items()}
        assert decode_entry(b"5-0", fields).event == event
    config = {k: v.encode() if isinstance(v, str) else v for k, v in encode_config(SPACES, "i").items()}
    assert decode_entry("1-0", config).spaces == tuple(SPACES)
    assert orjson.loads(config["d"])[2]["team"] == "a"
