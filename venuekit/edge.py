"""Wiring of the web edge (``signal`` and ``dev``): control API, Socket.IO signalling, venue runtime.

The concrete classes meet here and only here: the control API's key ring signs join tokens
and serves the keys signalling verifies them with; its venue store tells the venue runtime
which spaces an event has.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

import redis.asyncio as aioredis
from aiohttp import web

import control_api
from analytics.log import derive
from chat.fanout import FanoutConfig, FanoutEngine
from chat.ids import InstanceId
from chat.service import ChatService
from chat.store import ChatStore
from control_api.ids import EventId as ApiEventId
from control_api.ids import OrgId
from control_api.keyring import Keyring
from control_api.problems import ApiError
from control_api.venue import VenueStore
from sfu.node import SfuEvent, SfuNode
from signalling.admission import JoinTokenAdmitter
from signalling.chat_bridge import ChatBridge
from signalling.gateway import Gateway
from signalling.ids import EventId, SpaceId, TeamId
from signalling.kinds import SpaceKind
from signalling.media_bridge import MediaBridge
from signalling.revocations import RevocationEnforcer
from signalling.runtime import SignallingRuntime
from signalling.spaces import SpaceConfig
from venuekit.observability import READINESS_CHECKS_KEY

RUNTIME_KEY: Final = web.AppKey("signalling_runtime", SignallingRuntime)
GATEWAY_KEY: Final = web.AppKey("signalling_gateway", Gateway)


class LogAttendance:
    """The control API's attendance, re-derived from the event's analytics log on each request."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def attendance(self, event_id: str) -> dict[str, Any]:
        totals = await derive(self._redis, event_id, now_ms=int(time.time() * 1000))
        return {
            "unique_participants": totals.unique_participants,
            "participant_minutes": round(totals.participant_minutes, 3),
            "sessions": totals.sessions,
            "spaces": [
                {
                    "space_id": space,
                    "unique_participants": count,
                    "minutes": round(totals.per_space_ms.get(space, 0) / 60_000, 3),
                }
                for space, count in sorted(totals.per_space_unique.items())
            ],
            "participants": [
                {"participant_id": pid, "minutes": round(ms / 60_000, 3)}
                for pid, ms in sorted(totals.per_participant_ms.items())
            ],
        }


class StoreDirectory:
    """The venue runtime's view of the control API's events and spaces."""

    def __init__(self, store: VenueStore) -> None:
        self._store = store

    async def spaces_of(self, org_id: str, event_id: EventId) -> Sequence[SpaceConfig] | None:
        try:
            await self._store.event(OrgId(org_id), ApiEventId(event_id))
        except ApiError:
            return None
        records = await self._store.spaces(OrgId(org_id), ApiEventId(event_id))
        return [
            SpaceConfig(
                space_id=SpaceId(r["id"]),
                kind=SpaceKind(r["kind"]),
                capacity=r["capacity"],
                title=r["name"],
                team_id=TeamId(r["team_id"]) if r["team_id"] else None,
            )
            for r in records
        ]


def install_edge(
    app: web.Application,
    redis: aioredis.Redis,
    *,
    secret_key: str,
    cookie_secure: bool,
    media_hosts: tuple[str, ...] | None,
    chat_window_ms: int = 100,
) -> None:
    """Mount ``/api/v1`` and ``/socket.io/`` on ``app``; ``redis`` is closed by the caller.

    With ``media_hosts`` (``dev``), a media node runs in this process and offers ICE candidates
    on those addresses (``()``: every interface). Without it (``signal``), no media is served
    yet: signalling cannot reach remote ``venuekit sfu`` nodes so far.
    """
    api = control_api.create_app(
        redis, secret_key=secret_key, cookie_secure=cookie_secure, attendance=LogAttendance(redis)
    )
    app.add_subapp("/api/v1", api)

    keyring = Keyring(redis, secret_key)
    # The gateway needs its dispatcher, the dispatcher its chat bridge, and the bridge the
    # gateway: the bridge is bound to the chat service once both exist.
    runtime = SignallingRuntime(redis, StoreDirectory(VenueStore(redis)))
    gateway = Gateway(JoinTokenAdmitter(keyring, redis), runtime)
    bridge = ChatBridge(gateway)
    fanout = FanoutEngine(
        redis, bridge, instance_id=InstanceId(runtime.instance), config=FanoutConfig(window_ms=chat_window_ms)
    )
    bridge.bind(ChatService(ChatStore(redis), fanout))
    runtime.attach_chat(bridge)
    node: SfuNode | None = None
    media: MediaBridge | None = None
    if media_hosts is not None:
        listeners: list[MediaBridge] = []

        def to_media(event: SfuEvent) -> None:
            listeners[0].on_sfu_event(event)

        node = SfuNode(ice_host_addresses=media_hosts or None, on_event=to_media)
        media = MediaBridge(node, gateway, runtime.observe_speaker)
        listeners.append(media)
        runtime.attach_media(media)
    gateway.attach(app)
    app[RUNTIME_KEY] = runtime
    app[GATEWAY_KEY] = gateway

    async def chat_listener_ready() -> None:
        if not fanout.listener_up:
            raise RuntimeError("the chat fan-out cannot read its Redis streams")

    app[READINESS_CHECKS_KEY]["chat_listener"] = chat_listener_ready

    revocations = RevocationEnforcer(redis, gateway)

    async def run_runtime(_app: web.Application) -> AsyncIterator[None]:
        await fanout.start()
        await runtime.start(gateway)
        await revocations.start()
        yield
        await revocations.stop()
        await runtime.stop()
        await fanout.stop()
        if media is not None:
            await media.stop()
        if node is not None:
            await node.close()

    app.cleanup_ctx.append(run_runtime)
