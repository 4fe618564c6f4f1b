"""Made-up analytics logs with their ground truth, and a writer of them to a real stream."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import orjson
import redis.asyncio as aioredis

from analytics.attendance import AnalyticsEvent, ParticipantId, SpaceId
from analytics.log import REGISTRY_KEY, stream_key

START_MS = 1_700_000_000_000
SPACES = ["stage", "hall", "team-a"]


@dataclass
class Truth:
    online_ms: dict[str, int] = field(default_factory=dict)
    chat: dict[str, int] = field(default_factory=dict)


@dataclass
class _Who:
    online_since: int | None = None
    left: bool = False
    space: str | None = None


def scenario(
    seed: int, people: int = 5, steps: int = 80, declined: frozenset[str] = frozenset()
) -> tuple[list[AnalyticsEvent], Truth]:
    """A plausible log (arrivals, space switches, drops and reconnects, chat, reactions, hands,
    stage and speaking) ending with ``event_ended``, and the online time each person really had."""
    rng = random.Random(seed)
    names = [f"p{i}" for i in range(people)]
    state = {n: _Who() for n in names}
    truth = Truth()
    events: list[AnalyticsEvent] = []
    now = START_MS
    seq = 0

    def emit(kind: str, who: str | None, space: str | None = None) -> None:
        nonlocal seq
        seq += 1
        events.append(
            AnalyticsEvent(
                f"{now}-0:{seq}",
                kind,
                now,
                ParticipantId(who) if who else None,
                SpaceId(space) if space else None,
                profiling=who not in declined,
            )
        )

    for _ in range(steps):
        now += rng.randrange(1_000, 90_000)
        who = rng.choice(names)
        me = state[who]
        if me.left:
            continue
        if me.online_since is None:
            if me.space is None and not any(e.participant_id == who for e in events):
                emit("arrive", who)
            elif rng.random() < 0.2:
                emit("depart", who)
                me.left, me.space = True, None
                continue
            else:
                emit("reconnect", who, me.space or "lobby")
            me.online_since = now
            continue
        roll = rng.random()
        if roll < 0.25:
            target = rng.choice(SPACES)
            if me.space != target:
                if me.space is not None:
                    emit("leave", who, me.space)
                emit("join", who, target)
                me.space = target
        elif roll < 0.4:
            emit("disconnect", who, me.space or "lobby")
            truth.online_ms[who] = truth.online_ms.get(who, 0) + now - me.online_since
            me.online_since = None
        elif roll < 0.55:
            emit("chat_message", who, me.space)
            if who not in declined:
                truth.chat[who] = truth.chat.get(who, 0) + 1
        elif roll < 0.65:
            emit("reaction", who, me.space)
        elif roll < 0.72:
            emit("hand_raised", who, me.space)
        elif roll < 0.8 and me.space:
            emit("go_live", who, me.space)
        elif roll < 0.9 and me.space:
            emit("speaking_started", who, me.space)
        elif me.space:
            emit("speaking_stopped", who, me.space)
    now += 60_000
    for who, me in state.items():
        if me.online_since is not None:
            emit("depart", who)
            truth.online_ms[who] = truth.online_ms.get(who, 0) + now - me.online_since
    emit("event_ended", None)
    return events, truth


def fields_of(event: AnalyticsEvent, event_id: str) -> dict[str, str]:
    fields = {
        "id": event.event_id,
        "event": event_id,
        "kind": event.kind,
        "at_ms": str(event.at_ms),
        "participant": event.participant_id or "",
        "space": event.space_id or "",
        "actor": event.actor_id or "",
        "detail": orjson.dumps({}).decode(),
    }
    if not event.profiling:
        fields["profiling"] = "0"
    return fields


async def write_log(redis: aioredis.Redis, event_id: str, events: list[AnalyticsEvent]) -> None:
    """Append ``events`` to the event's analytics stream, as signalling does."""
    await redis.sadd(REGISTRY_KEY, event_id)
    pipe = redis.pipeline(transaction=False)
    for event in events:
        pipe.xadd(stream_key(event_id), fields_of(event, event_id))  # type: ignore[arg-type]
    await pipe.execute()


MIN = 60_000


def ev(n: int, kind: str, at_min: float, who: str | None = None, space: str | None = None) -> AnalyticsEvent:
    """A hand-written event: entry ``n``, at ``at_min`` minutes."""
    return AnalyticsEvent(
        f"{n}-0:0",
        kind,
        int(at_min * MIN),
        ParticipantId(who) if who else None,
        SpaceId(space) if space else None,
    )
