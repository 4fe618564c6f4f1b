"""The signalling runtime: sockets in, venue replicas in the middle, effects out.

It is the :class:`~signalling.gateway.Dispatcher` of the gateway. Each admitted socket's
inputs go into its event's venue log (:mod:`signalling.replica`); each applied entry's effects
come back here, and this instance carries out the part that is its own:

- effects for connections, participants, spaces or the whole event are emitted to the
  sockets *this* instance holds (every instance holds a full replica, so none needs another
  instance's help to reach its own sockets);
- media effects go to the :class:`MediaPort` for participants connected here;
- analytics effects are appended once, by the instance that appended the input.

It also owns the clock (a ``Tick`` input every ``tick_ms`` for events with local sockets), its
liveness key in Redis, and the reaper that disconnects the sockets of instances whose liveness
key lapsed (their processes died without saying goodbye).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import orjson
import redis.asyncio as aioredis
from prometheus_client import Counter, Gauge

from signalling import effects as fx
from signalling.chat_bridge import CHAT_PREFIX, ChatBridge
from signalling.events import ActiveSpeakerObserved, Connect, Disconnect, RawClientEvent, Tick, VenueEvent
from signalling.gateway import Connection, Gateway, GatewayError
from signalling.ids import ConnectionId, EventId, ParticipantId, SpaceId
from signalling.replica import VenueReplica, VenueUnavailableError
from signalling.spaces import SpaceConfig
from signalling.tasks import stop_tasks
from signalling.venue_log import LogEntry, entry_ms
from signalling.wire import client_message

log = logging.getLogger(__name__)

MEDIA_PREFIX: Final = "media_"
MAX_LOGGED_PAYLOAD_BYTES: Final = 16 * 1024
ALIVE_PREFIX: Final = "vk:sig:alive:"
SEEN_PREFIX: Final = "vk:sig:seen:"
"""An instance's last heartbeat (Redis clock, ms), kept a day after it dies: leaves are dated by it."""
SEEN_TTL_MS: Final = 24 * 3600 * 1000
ANALYTICS_EVENTS_KEY: Final = "vk:analytics:events"
MAX_ERASED_REMEMBERED: Final = 1000


EMITS = Counter("venuekit_signal_emits_total", "Venue effects emitted to local sockets", ["event"])
MEDIA_UNROUTED = Counter(
    "venuekit_signal_media_effects_unrouted_total", "Media effects with no media port configured"
)
ANALYTICS_APPENDED = Counter(
    "venuekit_signal_analytics_events_total", "Analytics events appended (joins, leaves, ...)", ["kind"]
)
LIVE_PARTICIPANTS = Gauge(
    "venuekit_signal_live_participants",
    "Participants in each space of each event this instance follows (every instance reports the "
    "same replicated figure: aggregate with max)",
    ["event", "space"],
)
REAPED = Counter("venuekit_signal_reaped_connections_total", "Connections of dead instances disconnected")
VENUES = Gauge("venuekit_signal_venues", "Venue replicas held by this instance")


class VenueDirectory(Protocol):
    async def spaces_of(self, org_id: str, event_id: EventId) -> Sequence[SpaceConfig] | None:
        """The spaces of an event of organisation ``org_id``, or None when it has no such event."""
        ...


class MediaPort(Protocol):
    async def apply(
        self, effect: fx.MediaEffect, connections: tuple[ConnectionId, ...], event_id: EventId
    ) -> None:
        """Carry out a media effect for a participant connected to this instance."""
        ...

    async def event(self, conn: Connection, name: str, payload: Any) -> Any:
        """A ``media_*`` client event (offer/answer); raise GatewayError to refuse."""
        ...


class StaticDirectory:
    """Events and their spaces fixed at start-up (tests, demos)."""

    def __init__(self, events: dict[EventId, Sequence[SpaceConfig]]) -> None:
        self._events = events

    async def spaces_of(self, org_id: str, event_id: EventId) -> Sequence[SpaceConfig] | None:
        return self._events.get(event_id)

    def set_spaces(self, event_id: EventId, spaces: Sequence[SpaceConfig]) -> None:
        """Change an event's spaces, as an organiser editing the venue does."""
        self._events[event_id] = spaces


def analytics_key(event_id: EventId) -> str:
    return f"vk:analytics:{{{event_id}}}"


def space_room(event_id: EventId, space_id: SpaceId) -> str:
    return f"s:{event_id}:{space_id}"


def event_room(event_id: EventId) -> str:
    return f"e:{event_id}"


class _Local:
    """The sockets of one event held by this instance."""

    def __init__(self) -> None:
        self.sid_of: dict[ConnectionId, str] = {}
        self.by_participant: dict[ParticipantId, set[ConnectionId]] = {}
        self.room_of: dict[ConnectionId, str] = {}

    def add(self, cid: ConnectionId, sid: str, pid: ParticipantId) -> None:
        self.sid_of[cid] = sid
        self.by_participant.setdefault(pid, set()).add(cid)

    def remove(self, cid: ConnectionId, pid: ParticipantId) -> None:
        self.sid_of.pop(cid, None)
        self.room_of.pop(cid, None)
        conns = self.by_participant.get(pid)
        if conns is not None:
            conns.discard(cid)
            if not conns:
                del self.by_participant[pid]

    def of(self, pid: ParticipantId) -> tuple[ConnectionId, ...]:
        return tuple(sorted(self.by_participant.get(pid, ())))


class SignallingRuntime:
    """One per signalling process; attach it to a :class:`Gateway` as its dispatcher."""

    def __init__(
        self,
        redis: aioredis.Redis,
        directory: VenueDirectory,
        *,
        media: MediaPort | None = None,
        chat: ChatBridge | None = None,
        instance: str | None = None,
        tick_ms: int = 500,
        alive_ttl_ms: int = 5000,
        venue_sync_ms: int = 2000,
    ) -> None:
        self._redis = redis
        self._directory = directory
        self._media = media
        self._chat = chat
        self.instance = instance or uuid.uuid4().hex[:12]
        self.tick_ms = tick_ms
        self.alive_ttl_ms = alive_ttl_ms
        self.venue_sync_ms = venue_sync_ms
        self._org_of: dict[EventId, str] = {}
        self.gateway: Gateway | None = None
        self.replicas: dict[EventId, VenueReplica] = {}
        self._locals: dict[EventId, _Local] = {}
        self._starting: dict[EventId, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._pending_counts: dict[EventId, dict[SpaceId, int]] = {}
        self._not_profiled: dict[EventId, set[ParticipantId]] = {}
        self._erased: dict[str, str] = {}
        self._registered: set[EventId] = set()
        self._speakers: dict[tuple[EventId, SpaceId], ParticipantId | None] = {}
        self._lost_at: dict[ConnectionId, int] = {}
        """Connections of dead instances being reaped -> their instance's last heartbeat (ms)."""

    def attach_chat(self, chat: ChatBridge) -> None:
        """Route ``chat_*`` events to ``chat`` (it is built after the gateway, which needs us)."""
        self._chat = chat

    def attach_media(self, media: MediaPort) -> None:
        """Send media effects and ``media_*`` events to ``media`` (built after the gateway too)."""
        self._media = media

    async def observe_speaker(
        self, event_id: EventId, space_id: SpaceId, participant_id: ParticipantId | None
    ) -> None:
        """The media node's active-speaker detector spoke: log it as a venue input."""
        replica = self.replicas.get(event_id)
        if replica is not None:
            with contextlib.suppress(GatewayError):
                await self._submit(replica, ActiveSpeakerObserved(space_id, participant_id))

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self, gateway: Gateway) -> None:
        self.gateway = gateway
        await self._beat()
        self._tasks = [
            asyncio.create_task(self._heartbeat_loop(), name="signal-heartbeat"),
            asyncio.create_task(self._tick_loop(), name="signal-ticks"),
            asyncio.create_task(self._venue_sync_loop(), name="signal-venue-sync"),
        ]

    async def stop(self) -> None:
        await stop_tasks(self._tasks)
        self._tasks = []
        for replica in self.replicas.values():
            await replica.stop()
        self.replicas.clear()
        VENUES.set(0)
        with contextlib.suppress(OSError, aioredis.RedisError):
            await self._mark_seen()
            await self._redis.delete(ALIVE_PREFIX + self.instance)  # others reap our sockets now

    async def _replica(self, org_id: str, event_id: EventId) -> VenueReplica:
        replica = self.replicas.get(event_id)
        if replica is not None:
            return replica
        lock = self._starting.setdefault(event_id, asyncio.Lock())
        async with lock:
            replica = self.replicas.get(event_id)
            if replica is None:
                spaces = await self._directory.spaces_of(org_id, event_id)
                if spaces is None:
                    raise GatewayError("unknown_event", "this event does not exist")
                replica = VenueReplica(self._redis, event_id, self.instance, self)
                await replica.start(spaces)
                self.replicas[event_id] = replica
                self._locals[event_id] = _Local()
                self._org_of[event_id] = org_id
                VENUES.set(len(self.replicas))
                await replica.reconfigure_if_changed(spaces)  # the log may hold an older venue
        return replica

    # --- the gateway's dispatcher ----------------------------------------------------------------

    def _cid(self, conn: Connection) -> ConnectionId:
        return ConnectionId(f"{self.instance}/{conn.sid}")

    async def connected(self, conn: Connection) -> None:
        member = conn.admitted.member
        replica = await self._replica(conn.admitted.org_id, member.event_id)
        cid = self._cid(conn)
        local = self._locals[member.event_id]
        local.add(cid, conn.sid, member.participant_id)
        assert self.gateway is not None
        await self.gateway.enter_room(conn.sid, event_room(member.event_id))
        try:
            effects = await self._submit(replica, Connect(cid, member))
            self._raise_refusal(effects, cid)
        except GatewayError:
            local.remove(cid, member.participant_id)
            raise

    async def event(self, conn: Connection, name: str, payload: Any) -> Any:
        if self._chat is not None and name.startswith(CHAT_PREFIX):
            result = await self._chat.event(conn, name, payload)
            if name == "chat_send":
                await self._log_chat_message(conn, payload, result)
            return result
        if self._media is not None and name.startswith(MEDIA_PREFIX):
            return await self._media.event(conn, name, payload)
        member = conn.admitted.member
        replica = await self._replica(conn.admitted.org_id, member.event_id)
        try:
            size = len(orjson.dumps(payload))
        except (TypeError, orjson.JSONEncodeError):
            raise GatewayError("invalid_payload", "the payload is not plain JSON") from None
        if size > MAX_LOGGED_PAYLOAD_BYTES:
            raise GatewayError(
                "payload_too_large", f"payloads are limited to {MAX_LOGGED_PAYLOAD_BYTES} bytes"
            )
        cid = self._cid(conn)
        effects = await self._submit(replica, RawClientEvent(cid, name, payload))
        self._raise_refusal(effects, cid)
        return None

    async def disconnected(self, conn: Connection, reason: str) -> None:
        if self._chat is not None:
            await self._chat.disconnected(conn)
        member = conn.admitted.member
        replica = self.replicas.get(member.event_id)
        cid = self._cid(conn)
        if replica is not None:
            with contextlib.suppress(VenueUnavailableError, GatewayError):
                await self._submit(replica, Disconnect(cid))
        local = self._locals.get(member.event_id)
        if local is not None:
            local.remove(cid, member.participant_id)

    async def _submit(self, replica: VenueReplica, event: VenueEvent) -> list[fx.Effect]:
        try:
            return await replica.submit(event)
        except VenueUnavailableError as exc:
            raise GatewayError(exc.code, str(exc)) from None
        except (OSError, aioredis.RedisError):
            raise GatewayError("venue_unavailable", "the venue cannot be reached; retry shortly") from None

    @staticmethod
    def _raise_refusal(effects: list[fx.Effect], cid: ConnectionId) -> None:
        for effect in effects:
            if isinstance(effect, fx.ErrorReply) and effect.connection_id == cid:
                raise GatewayError(effect.code.value, effect.message)

    # --- effects (the replica's sink) ------------------------------------------------------------

    def forget_participants(self, renames: Mapping[str, str]) -> None:
        """Their data is being erased: log their analytics under these anonymous ids from now on."""
        self._erased.update(renames)
        while len(self._erased) > MAX_ERASED_REMEMBERED:
            del self._erased[next(iter(self._erased))]

    async def execute(self, event_id: EventId, entry: LogEntry, effects: list[fx.Effect]) -> None:
        own = entry.instance == self.instance
        if isinstance(entry.event, Connect):  # every replica sees every connect, in log order
            member = entry.event.member
            declined = self._not_profiled.setdefault(event_id, set())
            if member.profiling:
                declined.discard(member.participant_id)
            else:
                declined.add(member.participant_id)
        for index, effect in enumerate(effects):
            if isinstance(effect, fx.Analytics):
                if own:
                    await self._append_analytics(event_id, entry, index, effect)
                continue
            if isinstance(effect, fx.ActiveSpeakerChanged):
                await self._log_speaker(event_id, entry, index, effect)
            if isinstance(effect, fx.MediaEffect):
                await self._media_effect(event_id, effect)
            elif not isinstance(effect, fx.ErrorReply):  # refusals travel back through the gateway
                await self._emit(event_id, effect)

    async def _emit(self, event_id: EventId, effect: fx.Effect) -> None:  # noqa: PLR0912 - one arm per address
        gateway = self.gateway
        local = self._locals.get(event_id)
        if gateway is None or local is None:
            return
        message = client_message(effect)
        if message is None:
            return
        name, payload = message
        match effect:
            case fx.Welcome(connection_id=cid):
                sids = [local.sid_of[cid]] if cid in local.sid_of else []
                await self._emit_sids(sids, name, payload)
            case fx.SpaceSnapshot(participant_id=pid, space_id=space_id):
                room = space_room(event_id, space_id)
                for cid in local.of(pid):
                    sid = local.sid_of[cid]
                    previous = local.room_of.get(cid)
                    if previous != room:
                        if previous is not None:
                            await gateway.leave_room(sid, previous)  # type: ignore[arg-type]
                        await gateway.enter_room(sid, room)  # type: ignore[arg-type]
                        local.room_of[cid] = room
                    await gateway.emit(name, payload, to=sid)
                EMITS.labels(name).inc()
            case fx.PermissionsChanged(participant_id=pid):
                await self._emit_sids([local.sid_of[c] for c in local.of(pid)], name, payload)
            case fx.ParticipantRemoved(participant_id=pid):
                sids = [local.sid_of[c] for c in local.of(pid)]
                await self._emit_sids(sids, name, payload)
                for sid in sids:
                    await gateway.disconnect(sid)  # type: ignore[arg-type]
            case fx.BreakoutBroadcast(room_ids=rooms):
                for space_id in rooms:
                    await gateway.emit(name, payload, to=space_room(event_id, space_id))
                EMITS.labels(name).inc()
            case fx.SpaceCountChanged(space_id=space_id, count=count):
                # Coalesced: a join into a lobby of thousands would otherwise emit to all of them.
                self._pending_counts.setdefault(event_id, {})[space_id] = count
            case fx.BreakoutsOpened() | fx.BreakoutsClosed() | fx.VenueChanged():
                await gateway.emit(name, payload, to=event_room(event_id))
                EMITS.labels(name).inc()
            case fx.EventEnded():
                await gateway.emit(name, payload, to=event_room(event_id))
                EMITS.labels(name).inc()
                for sid in list(local.sid_of.values()):
                    await gateway.disconnect(sid)  # type: ignore[arg-type]
            case _:
                target: SpaceId | None = getattr(effect, "space_id", None)
                if target is not None:
                    await gateway.emit(name, payload, to=space_room(event_id, target))
                    EMITS.labels(name).inc()

    async def _emit_sids(self, sids: list[str], name: str, payload: Any) -> None:
        assert self.gateway is not None
        for sid in sids:
            await self.gateway.emit(name, payload, to=sid)
        if sids:
            EMITS.labels(name).inc()

    async def _media_effect(self, event_id: EventId, effect: fx.MediaEffect) -> None:
        local = self._locals.get(event_id)
        connections = local.of(effect.participant_id) if local is not None else ()
        if not connections:
            return
        if self._media is None:
            MEDIA_UNROUTED.inc()
            return
        await self._media.apply(effect, connections, event_id)

    async def _append_analytics(
        self, event_id: EventId, entry: LogEntry, index: int, effect: fx.Analytics
    ) -> None:
        at_ms = effect.at_ms
        detail = dict(effect.detail)
        lost_at_ms = (
            self._lost_at.get(entry.event.connection_id) if isinstance(entry.event, Disconnect) else None
        )
        if lost_at_ms is not None and effect.kind is fx.AnalyticsKind.DISCONNECT:
            # its instance died: the participant was last seen at its last heartbeat, not now
            at_ms = min(at_ms, lost_at_ms)
            detail["inferred"] = "heartbeat_lost"
        fields: dict[str, str] = {
            "id": f"{entry.entry_id}:{index}",
            "event": event_id,
            "kind": effect.kind.value,
            "at_ms": str(at_ms),
            "participant": effect.participant_id or "",
            "space": effect.space_id or "",
            "actor": effect.actor_id or "",
            "detail": orjson.dumps(detail).decode(),
        }
        await self._write_analytics(event_id, fields)

    async def _write_analytics(self, event_id: EventId, fields: dict[str, str]) -> None:
        """Append one analytics event (the single writer of ``vk:analytics:{event}``)."""
        if fields["participant"] in self._not_profiled.get(event_id, ()):
            fields["profiling"] = "0"  # counted for billing, left out of engagement
        for old, anonymous in self._erased.items():
            fields = {name: value.replace(old, anonymous) for name, value in fields.items()}
        try:
            if event_id not in self._registered:  # the analytics workers discover streams here
                await self._redis.sadd(ANALYTICS_EVENTS_KEY, event_id)
                self._registered.add(event_id)
            await self._redis.xadd(analytics_key(event_id), fields)  # type: ignore[arg-type]
            ANALYTICS_APPENDED.labels(fields["kind"]).inc()
        except (OSError, aioredis.RedisError) as exc:
            log.error("analytics event %s lost: %s", fields["id"], exc)

    async def _log_speaker(
        self, event_id: EventId, entry: LogEntry, index: int, effect: fx.ActiveSpeakerChanged
    ) -> None:
        """The active speaker of a space changed: who stopped and who started speaking (ids only)."""
        previous = self._speakers.get((event_id, effect.space_id))
        self._speakers[(event_id, effect.space_id)] = effect.participant_id
        if entry.instance != self.instance or previous == effect.participant_id:
            return
        at_ms = str(entry_ms(entry.entry_id))
        base = {"event": event_id, "at_ms": at_ms, "space": effect.space_id, "actor": "", "detail": "{}"}
        if previous is not None:
            stop = {"id": f"{entry.entry_id}:{index}.0", "kind": "speaking_stopped", "participant": previous}
            await self._write_analytics(event_id, stop | base)
        if effect.participant_id is not None:
            start = {"id": f"{entry.entry_id}:{index}.1", "kind": "speaking_started"}
            await self._write_analytics(event_id, start | {"participant": effect.participant_id} | base)

    async def _log_chat_message(self, conn: Connection, payload: Any, sent: Any) -> None:
        """A chat message was stored: count it for engagement (never its text nor its channel)."""
        if not isinstance(sent, dict) or not isinstance(payload, dict):
            return
        channel, message_id = str(payload.get("channel", "")), str(sent.get("id", ""))
        member = conn.admitted.member
        space = channel.removeprefix("space:") if channel.startswith("space:") else ""
        digest = hashlib.sha256(f"{member.event_id}/{channel}".encode()).hexdigest()[:16]
        fields = {
            "id": f"chat:{digest}:{message_id}",  # the same message logged twice is one event
            "event": member.event_id,
            "kind": "chat_message",
            "at_ms": str(sent.get("ts_ms", "")),
            "participant": member.participant_id,
            "space": space,
            "actor": "",
            "detail": orjson.dumps({"channel_kind": channel.split(":", 1)[0]}).decode(),
        }
        await self._write_analytics(member.event_id, fields)

    # --- clock, liveness, reaping ----------------------------------------------------------------

    async def _beat(self) -> None:
        await self._redis.set(ALIVE_PREFIX + self.instance, "1", px=self.alive_ttl_ms)
        await self._mark_seen()

    async def _mark_seen(self) -> None:
        seconds, micros = await self._redis.time()  # the clock venue log entries are dated by
        seen_ms = seconds * 1000 + micros // 1000
        await self._redis.set(SEEN_PREFIX + self.instance, seen_ms, px=SEEN_TTL_MS)

    async def _heartbeat_loop(self) -> None:
        period_s = self.alive_ttl_ms / 5000
        while True:
            await asyncio.sleep(period_s)
            try:
                await self._beat()
                await self.reap_dead_instances()
            except (OSError, aioredis.RedisError) as exc:
                log.warning("heartbeat failed: %s", exc)

    async def flush_counts(self) -> None:
        """Send each space's latest count once, to the whole event (see ``_emit``)."""
        pending, self._pending_counts = self._pending_counts, {}
        if self.gateway is None:
            return
        for event_id, counts in pending.items():
            for space_id, count in counts.items():
                await self.gateway.emit(
                    "space_count", {"space_id": space_id, "count": count}, to=event_room(event_id)
                )
                EMITS.labels("space_count").inc()

    def export_live_counts(self) -> None:
        """Refresh the live-participants gauge from the replicas (cheap: one read per space)."""
        for event_id, replica in self.replicas.items():
            venue = replica.venue
            if venue is None:
                continue
            for space_id, space in venue.spaces.items():
                if not space.ended:
                    LIVE_PARTICIPANTS.labels(event_id, space_id).set(space.count)

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_ms / 1000)
            await self.flush_counts()
            self.export_live_counts()
            for event_id, replica in list(self.replicas.items()):
                local = self._locals.get(event_id)
                if local is None or not local.sid_of:
                    continue
                with contextlib.suppress(GatewayError, OSError, aioredis.RedisError):
                    await self._submit(replica, Tick())

    async def sync_venues(self) -> int:
        """Bring every venue this instance follows in line with the organiser's spaces in the
        control API (spaces and teams added, edited or removed while the event runs). Returns how
        many venues were reconfigured."""
        changed = 0
        for event_id, replica in list(self.replicas.items()):
            spaces = await self._directory.spaces_of(self._org_of.get(event_id, ""), event_id)
            if spaces is not None and await replica.reconfigure_if_changed(spaces):
                changed += 1
        return changed

    async def _venue_sync_loop(self) -> None:
        while True:
            await asyncio.sleep(self.venue_sync_ms / 1000)
            try:
                await self.sync_venues()
            except (OSError, aioredis.RedisError) as exc:
                log.warning("venue sync failed: %s", exc)
            except Exception:  # a directory bug must not stop later syncs
                log.exception("venue sync failed")

    async def reap_dead_instances(self) -> int:
        """Disconnect, in every venue, the connections of instances that stopped beating."""
        reaped = 0
        alive: dict[str, bool] = {self.instance: True}
        last_seen: dict[str, int | None] = {}
        for replica in list(self.replicas.values()):
            for cid in sorted(replica.connections):
                owner = cid.split("/", 1)[0]
                if owner not in alive:
                    alive[owner] = bool(await self._redis.exists(ALIVE_PREFIX + owner))
                    if not alive[owner]:
                        seen = await self._redis.get(SEEN_PREFIX + owner)
                        last_seen[owner] = int(seen) if seen is not None else None
                if not alive[owner]:
                    seen_ms = last_seen.get(owner)
                    if seen_ms is not None:
                        self._lost_at[cid] = seen_ms  # the disconnect's analytics are dated by it
                    try:
                        with contextlib.suppress(GatewayError):
                            await self._submit(replica, Disconnect(cid))
                            reaped += 1
                    finally:
                        self._lost_at.pop(cid, None)
        REAPED.inc(reaped)
        return reaped
