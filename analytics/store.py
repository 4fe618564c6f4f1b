"""The live fold of every event's analytics log, persisted in Redis so several workers share it.

Layout (every key of one event shares the hash tag ``{<event>}``, so one transaction may touch them):

- ``vk:an:{E}:f:<participant>`` hash: analytics event id -> packed event. The set of a participant's
  events; ``HSETNX`` makes adding one idempotent.
- ``vk:an:{E}:ended`` string: when the event ended (the earliest ``event_ended`` seen).
- ``vk:an:{E}:p:<participant>`` string: that participant's :class:`PersonFigures` (JSON), a pure
  function of their event set (:func:`analytics.attendance.summarise`).
- ``vk:an:{E}:people`` set: the participants that have figures.
- ``vk:an:{E}:totals`` hash: the sum of every participant's :meth:`PersonFigures.contributions`.
- ``vk:an:{E}:meta`` hash: ``last_at_ms`` (newest event folded), ``applied_ms`` (wall clock then).

Folding a batch adds its events to the sets, then recomputes each touched participant and
writes their new figures with a script that also adds (new - old) to the totals, but only if what
the figures were computed from is unchanged (optimistic concurrency: two workers recomputing one
participant at once cannot both add their change). A redelivered event adds nothing to a set
and the recomputed figures equal the stored ones, so it changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import orjson
import redis.asyncio as aioredis

from analytics.attendance import AnalyticsEvent, ParticipantId, PersonFigures, SpaceId, summarise

MGET_CHUNK: Final = 500
_MIN_SCRIPT: Final = """
local current = redis.call('GET', KEYS[1])
if not current or tonumber(current) > tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
"""
_APPLY_FIGURES_SCRIPT: Final = """
-- KEYS: the participant's event set, their figures, the event's end, the people set, the totals.
-- ARGV: event set size, end and figures as read ('' for none), the new figures, the
-- participant, then field/change pairs for the totals. 1 when written, 0 when stale.
if redis.call('HLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return 0 end
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[2] then return 0 end
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[3] then return 0 end
redis.call('SET', KEYS[2], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[5])
for i = 6, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[5], ARGV[i], ARGV[i + 1])
end
return 1
"""
_META_SCRIPT: Final = """
local current = redis.call('HGET', KEYS[1], 'last_at_ms')
if not current or tonumber(current) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'last_at_ms', ARGV[1])
end
redis.call('HSET', KEYS[1], 'applied_ms', ARGV[2])
return 1
"""


def _k(event_id: str, suffix: str) -> str:
    return f"vk:an:{{{event_id}}}:{suffix}"


def facts_key(event_id: str, participant: str) -> str:
    return _k(event_id, "f:" + participant)


def person_key(event_id: str, participant: str) -> str:
    return _k(event_id, "p:" + participant)


def people_key(event_id: str) -> str:
    return _k(event_id, "people")


def totals_key(event_id: str) -> str:
    return _k(event_id, "totals")


def meta_key(event_id: str) -> str:
    return _k(event_id, "meta")


def ended_key(event_id: str) -> str:
    return _k(event_id, "ended")


def pack(event: AnalyticsEvent) -> bytes:
    return orjson.dumps([event.kind, event.at_ms, event.space_id, event.actor_id, int(event.profiling)])


def unpack(event_id: str, participant: str, raw: bytes | str) -> AnalyticsEvent:
    kind, at_ms, space, actor, profiling = orjson.loads(raw)
    return AnalyticsEvent(
        event_id=event_id,
        kind=kind,
        at_ms=int(at_ms),
        participant_id=ParticipantId(participant),
        space_id=SpaceId(space) if space else None,
        actor_id=ParticipantId(actor) if actor else None,
        profiling=bool(profiling),
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _delta(old: Mapping[str, int], new: Mapping[str, int]) -> dict[str, int]:
    out = {k: new.get(k, 0) - old.get(k, 0) for k in set(old) | set(new)}
    return {k: v for k, v in sorted(out.items()) if v}


class AnalyticsStore:
    """Reads and writes the persisted fold; ``redis`` belongs to the caller."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._min = redis.register_script(_MIN_SCRIPT)
        self._meta = redis.register_script(_META_SCRIPT)
        self._apply_figures = redis.register_script(_APPLY_FIGURES_SCRIPT)

    async def apply(
        self, event_id: str, events: Sequence[AnalyticsEvent], now_ms: int
    ) -> list[AnalyticsEvent]:
        """Fold ``events`` (all of ``event_id``) in; returns those not seen before. Safe to repeat."""
        if not events:
            return []
        pipe = self._redis.pipeline(transaction=False)
        touched: set[str] = set()
        ended: list[int] = []
        for event in events:
            if event.participant_id is None:
                if event.kind == "event_ended":
                    ended.append(event.at_ms)
                pipe.hsetnx(_k(event_id, "g"), event.event_id, pack(event))
            else:
                touched.add(event.participant_id)
                pipe.hsetnx(facts_key(event_id, event.participant_id), event.event_id, pack(event))
        added = await pipe.execute()
        fresh = [event for event, was_added in zip(events, added, strict=True) if was_added]
        if ended:
            await self._min(keys=[ended_key(event_id)], args=[min(ended)])
            touched |= {_text(p) for p in await self._redis.smembers(people_key(event_id))}
        await self.recompute_many(event_id, touched)
        newest = max(e.at_ms for e in events)
        await self._meta(keys=[meta_key(event_id)], args=[newest, now_ms])
        return fresh

    async def recompute(self, event_id: str, participant: str) -> bool:
        """Bring one participant's figures (and the totals) in line with their event set; True
        when something changed."""
        return bool(await self.recompute_many(event_id, [participant]))

    async def recompute_many(self, event_id: str, participants: Iterable[str]) -> int:
        """Recompute several participants: one round trip reads them all, one writes them all.

        Each write is a script that applies only if the participant's event set, the event's end
        and their stored figures are still what was read (an event set only grows, so an equal
        size means an equal set); the others are read and computed again. Returns how many
        participants' figures changed.
        """
        pending = sorted(set(participants))
        changed = 0
        ek = ended_key(event_id)
        while pending:
            reads = self._redis.pipeline(transaction=False)
            for participant in pending:
                reads.hgetall(facts_key(event_id, participant))
                reads.get(person_key(event_id, participant))
            reads.get(ek)
            got = await reads.execute()
            ended_raw = got[-1]
            ended = int(ended_raw) if ended_raw is not None else None
            writes = self._redis.pipeline(transaction=False)
            written: list[str] = []
            for n, participant in enumerate(pending):
                raw: dict[Any, Any] = got[2 * n]
                old_raw: bytes | None = got[2 * n + 1]
                events = [unpack(_text(i), participant, v) for i, v in raw.items()]
                new = summarise(ParticipantId(participant), events, ended)
                new_json = orjson.dumps(new.to_json())
                if old_raw == new_json:
                    continue
                old = PersonFigures.from_json(orjson.loads(old_raw)).contributions() if old_raw else {}
                delta = _delta(old, new.contributions())
                deltas = [x for field, change in delta.items() for x in (field, change)]
                keys = [
                    facts_key(event_id, participant),
                    person_key(event_id, participant),
                    ek,
                    people_key(event_id),
                    totals_key(event_id),
                ]
                args = [len(raw), ended_raw or b"", old_raw or b"", new_json, participant, *deltas]
                await self._apply_figures(keys=keys, args=args, client=writes)
                written.append(participant)
            if not written:
                break
            results = await writes.execute()
            changed += sum(1 for r in results if int(r))
            pending = [p for p, r in zip(written, results, strict=True) if not int(r)]
        return changed

    # --- reading ---------------------------------------------------------------------------------

    async def counters(self, event_id: str) -> dict[str, int]:
        raw: dict[Any, Any] = await self._redis.hgetall(totals_key(event_id))
        return {_text(k): int(v) for k, v in raw.items() if int(v)}

    async def people(self, event_id: str) -> dict[ParticipantId, PersonFigures]:
        members: set[Any] = await self._redis.smembers(people_key(event_id))
        pids = sorted(_text(p) for p in members)
        out: dict[ParticipantId, PersonFigures] = {}
        for start in range(0, len(pids), MGET_CHUNK):
            chunk = pids[start : start + MGET_CHUNK]
            values = await self._redis.mget([person_key(event_id, p) for p in chunk])
            for pid, value in zip(chunk, values, strict=True):
                if value is not None:
                    out[ParticipantId(pid)] = PersonFigures.from_json(orjson.loads(value))
        return out

    async def meta(self, event_id: str) -> dict[str, int]:
        raw: dict[Any, Any] = await self._redis.hgetall(meta_key(event_id))
        return {_text(k): int(v) for k, v in raw.items()}

    async def ended_ms(self, event_id: str) -> int | None:
        value = await self._redis.get(ended_key(event_id))
        return int(value) if value is not None else None


def sum_contributions(people: Iterable[PersonFigures]) -> dict[str, int]:
    """The totals a set of people adds up to (what the worker keeps incrementally)."""
    out: dict[str, int] = {}
    for person in people:
        for field, value in person.contributions().items():
            out[field] = out.get(field, 0) + value
    return {k: v for k, v in out.items() if v}
