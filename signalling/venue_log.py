"""The venue log: every input of one event's state machine, in order, in a Redis stream.

Every signalling instance that serves sockets of an event appends that event's inputs
(connects, disconnects, raw client events, clock ticks, SFU observations) to one stream and
applies the whole stream, in stream order, to its own :class:`~signalling.venue.Venue`. The
state machine is deterministic and takes its time from the entry id (the Redis server's clock),
so every instance holds the same venue state: this is state machine replication with Redis as
the sequencer. See docs/signalling-replication.md for the reasoning.

The first ``config`` entry of a stream founds the venue with the event's spaces; a later
``config`` entry (the organiser changed spaces or teams while the event runs) is applied as a
:class:`~signalling.events.Reconfigure` input at its place in the log, so every replica changes
at the same point. Instances racing to create a venue write equal configs: the second is a no-op.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Final

import orjson
import redis.asyncio as aioredis

from signalling.events import (
    ActiveSpeakerObserved,
    Connect,
    Disconnect,
    RawClientEvent,
    Tick,
    VenueEvent,
)
from signalling.ids import ConnectionId, EventId, ParticipantId, SpaceId, TeamId
from signalling.kinds import Role, SpaceKind
from signalling.members import Member
from signalling.spaces import SpaceConfig

InstanceId = str
EntryId = str

KIND_CONFIG: Final = "config"


def log_key(event_id: EventId) -> str:
    return f"vk:venue:{{{event_id}}}:log"


def entry_ms(entry_id: EntryId) -> int:
    """The Redis server's clock, in ms, when the entry was appended."""
    return int(entry_id.split("-", 1)[0])


@dataclasses.dataclass(frozen=True, slots=True)
class LogEntry:
    entry_id: EntryId
    instance: InstanceId
    """The instance that appended it: it alone performs the entry's once-only side effects."""
    event: VenueEvent | None
    """None for a ``config`` entry."""
    spaces: tuple[SpaceConfig, ...] = ()


def _member_fields(member: Member) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "p": member.participant_id,
        "e": member.event_id,
        "n": member.display_name,
        "r": member.role.value,
        "t": sorted(member.teams),
        "s": sorted(member.spaces),
    }
    if not member.profiling:
        fields["a"] = 0
    return fields


def encode_event(event: VenueEvent, instance: InstanceId) -> dict[str, bytes | str]:
    """Stream fields of one venue input."""
    fields: dict[str, bytes | str] = {"i": instance}
    match event:
        case Connect(connection_id, member):
            fields |= {"k": "connect", "c": connection_id, "d": orjson.dumps(_member_fields(member))}
        case Disconnect(connection_id):
            fields |= {"k": "disconnect", "c": connection_id}
        case RawClientEvent(connection_id, name, data):
            shown = name if isinstance(name, str) else ""
            fields |= {"k": "client", "c": connection_id, "n": shown, "d": orjson.dumps(data)}
        case Tick():
            fields |= {"k": "tick"}
        case ActiveSpeakerObserved(space_id, participant_id):
            fields |= {"k": "speaker", "s": space_id, "p": participant_id or ""}
        case _:
            raise TypeError(f"{type(event).__name__} is not logged")
    return fields


def encode_config(spaces: Sequence[SpaceConfig], instance: InstanceId) -> dict[str, bytes | str]:
    rows = [
        {"id": s.space_id, "kind": s.kind.value, "cap": s.capacity, "title": s.title, "team": s.team_id}
        for s in spaces
    ]
    return {"i": instance, "k": KIND_CONFIG, "d": orjson.dumps(rows)}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def decode_entry(entry_id: bytes | str, raw: dict[Any, Any]) -> LogEntry:
    """One stream entry back into a venue input. Entries are written only by us."""
    fields = {_text(k): v for k, v in raw.items()}
    eid, instance, kind = _text(entry_id), _text(fields["i"]), _text(fields["k"])
    if kind == KIND_CONFIG:
        rows = orjson.loads(fields["d"])
        spaces = tuple(
            SpaceConfig(
                SpaceId(r["id"]),
                SpaceKind(r["kind"]),
                r["cap"],
                title=r["title"],
                team_id=None if r["team"] is None else TeamId(r["team"]),
            )
            for r in rows
        )
        return LogEntry(eid, instance, None, spaces)
    event: VenueEvent
    if kind == "connect":
        m = orjson.loads(fields["d"])
        member = Member(
            participant_id=ParticipantId(m["p"]),
            event_id=EventId(m["e"]),
            display_name=m["n"],
            role=Role(m["r"]),
            teams=frozenset(TeamId(t) for t in m["t"]),
            spaces=frozenset(m["s"]),
            profiling=m.get("a", 1) != 0,
        )
        event = Connect(ConnectionId(_text(fields["c"])), member)
    elif kind == "disconnect":
        event = Disconnect(ConnectionId(_text(fields["c"])))
    elif kind == "client":
        event = RawClientEvent(
            ConnectionId(_text(fields["c"])), _text(fields["n"]), orjson.loads(fields["d"])
        )
    elif kind == "tick":
        event = Tick()
    elif kind == "speaker":
        who = _text(fields["p"])
        event = ActiveSpeakerObserved(SpaceId(_text(fields["s"])), ParticipantId(who) if who else None)
    else:
        raise ValueError(f"unknown venue log entry kind {kind!r}")
    return LogEntry(eid, instance, event)


class VenueLog:
    """Append to and read one event's venue log."""

    def __init__(self, redis: aioredis.Redis, event_id: EventId) -> None:
        self._redis = redis
        self.key = log_key(event_id)

    async def append(self, fields: dict[str, bytes | str]) -> EntryId:
        entry_id = await self._redis.xadd(self.key, fields)  # type: ignore[arg-type]
        return _text(entry_id)

    async def read_after(self, last_id: EntryId, *, block_ms: int | None, count: int = 500) -> list[LogEntry]:
        """Entries after ``last_id`` (``"0"`` for all); waits up to ``block_ms`` when there are none."""
        reply: Any = await self._redis.xread({self.key: last_id}, count=count, block=block_ms)
        if not reply:
            return []
        _key, entries = reply[0]
        return [decode_entry(eid, fields) for eid, fields in entries]
