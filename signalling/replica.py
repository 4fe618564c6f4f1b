"""One instance's replica of one event's venue: apply the venue log in order, hand effects on.

``submit`` appends an input to the log and waits until this replica has applied it, so the
caller gets exactly the effects that input caused (the same effects every other replica
computes). The tail task owns the order: nothing is applied except from the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Final, Protocol

import redis.asyncio as aioredis
from prometheus_client import Counter, Histogram

from signalling.effects import Effect
from signalling.events import Connect, Disconnect, Reconfigure, VenueEvent
from signalling.ids import ConnectionId, EventId
from signalling.spaces import SpaceConfig
from signalling.venue import Venue
from signalling.venue_log import (
    EntryId,
    InstanceId,
    LogEntry,
    VenueLog,
    encode_config,
    encode_event,
    entry_ms,
)

log = logging.getLogger(__name__)

SUBMIT_TIMEOUT_S: Final = 10.0
MAX_UNCLAIMED: Final = 1000

APPLIED = Counter("venuekit_signal_venue_inputs_applied_total", "Venue log entries applied by this replica")
APPLY_FAILED = Counter("venuekit_signal_venue_apply_failures_total", "Venue log entries that raised")
SUBMIT_LATENCY = Histogram(
    "venuekit_signal_venue_submit_seconds",
    "From appending an input to having applied it locally",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


class EffectSink(Protocol):
    async def execute(self, event_id: EventId, entry: LogEntry, effects: list[Effect]) -> None:
        """Carry out what this instance is responsible for among ``effects``."""
        ...


class VenueUnavailableError(RuntimeError):
    code: Final = "venue_unavailable"


class VenueReplica:
    """The venue of ``event_id`` as this instance sees it, kept current from the log."""

    def __init__(
        self, redis: aioredis.Redis, event_id: EventId, instance: InstanceId, sink: EffectSink
    ) -> None:
        self.event_id = event_id
        self.instance = instance
        self._log = VenueLog(redis, event_id)
        self._sink = sink
        self.venue: Venue | None = None
        self.last_id: EntryId = "0"
        self.connections: set[ConnectionId] = set()
        """Connections the log has connected and not yet disconnected (on any instance)."""
        self._waiters: dict[EntryId, asyncio.Future[list[Effect]]] = {}
        self._unclaimed: dict[EntryId, list[Effect]] = {}
        self._tail: asyncio.Task[None] | None = None

    async def start(self, spaces: Sequence[SpaceConfig]) -> None:
        """Catch up with the log (creating it with ``spaces`` if the event has none) and follow it."""
        await self._catch_up()
        if self.venue is None:
            await self._log.append(encode_config(spaces, self.instance))
            await self._catch_up()
        assert self.venue is not None
        self._tail = asyncio.create_task(self._follow(), name=f"venue-log-{self.event_id}")

    async def reconfigure_if_changed(self, spaces: Sequence[SpaceConfig]) -> bool:
        """Append a ``config`` entry when ``spaces`` differ from the venue's; every replica then
        applies it as :class:`~signalling.events.Reconfigure` at the same point of the log."""
        if self.venue is None or set(spaces) == set(self.venue.configured_spaces()):
            return False
        await self._log.append(encode_config(spaces, self.instance))
        return True

    async def stop(self) -> None:
        if self._tail is not None:
            self._tail.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tail
            self._tail = None
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(VenueUnavailableError("the venue replica stopped"))
        self._waiters.clear()

    async def submit(self, event: VenueEvent) -> list[Effect]:
        """Append ``event`` and return the effects it had once applied here."""
        if self._tail is None or self._tail.done():
            raise VenueUnavailableError("the venue replica is not running")
        loop = asyncio.get_running_loop()
        started = loop.time()
        entry_id = await self._log.append(encode_event(event, self.instance))
        effects: list[Effect] | None = self._unclaimed.pop(entry_id, None)
        if effects is None:
            waiter = loop.create_future()
            self._waiters[entry_id] = waiter
            try:
                effects = await asyncio.wait_for(waiter, SUBMIT_TIMEOUT_S)
            except TimeoutError:
                raise VenueUnavailableError("the venue did not apply the request in time") from None
            finally:
                self._waiters.pop(entry_id, None)
        SUBMIT_LATENCY.observe(loop.time() - started)
        assert effects is not None
        return effects

    async def _catch_up(self) -> None:
        while entries := await self._log.read_after(self.last_id, block_ms=None, count=2000):
            for entry in entries:
                await self._apply(entry)

    async def _follow(self) -> None:
        while True:
            try:
                entries = await self._log.read_after(self.last_id, block_ms=2000)
            except (OSError, aioredis.RedisError) as exc:
                log.warning("venue log %s unreadable (%s); retrying", self.event_id, exc)
                await asyncio.sleep(0.5)
                continue
            for entry in entries:
                await self._apply(entry)

    async def _apply(self, entry: LogEntry) -> None:
        self.last_id = entry.entry_id
        event = entry.event
        if event is None:  # a config entry: the first founds the venue, later ones reconfigure it
            if self.venue is None:
                self.venue = Venue(self.event_id, entry.spaces)
                return
            event = Reconfigure(entry.spaces)
        if self.venue is None:  # pragma: no cover - we always write the config first
            log.error("venue log %s has input %s before any config", self.event_id, entry.entry_id)
            return
        try:
            effects = self.venue.apply(event, entry_ms(entry.entry_id))
        except Exception:  # a bug in the state machine: every replica fails alike, so skip
            APPLY_FAILED.inc()
            log.exception("venue %s could not apply %s", self.event_id, entry.entry_id)
            effects = []
        APPLIED.inc()
        match entry.event:
            case Connect(connection_id, _):
                self.connections.add(connection_id)
            case Disconnect(connection_id):
                self.connections.discard(connection_id)
        try:
            await self._sink.execute(self.event_id, entry, effects)
        except Exception:
            log.exception("executing the effects of %s failed", entry.entry_id)
        if entry.instance == self.instance:
            waiter = self._waiters.get(entry.entry_id)
            if waiter is not None and not waiter.done():
                waiter.set_result(effects)
            elif waiter is None:  # applied before ``submit`` got its id back from XADD
                self._unclaimed[entry.entry_id] = effects
                while len(self._unclaimed) > MAX_UNCLAIMED:  # from submits that timed out
                    del self._unclaimed[next(iter(self._unclaimed))]
