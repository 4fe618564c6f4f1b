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
from analytics.service import AnalyticsService
from analytics.worker import AnalyticsWorker
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
from signalling.media_nodes import PlacedNodes, SingleNode
from signalling.node_client import LocalNode
from signalling.node_events import EventListener
from signalling.placement import NodeRegistry
from signalling.revocations import RevocationEnforcer
from signalling.runtime import SignallingRuntime
from signalling.spaces import SpaceConfig
from venuekit.observability import READINESS_CHECKS_KEY
from venuekit.privacy import RetentionJob, personal_data_holders, retention_context

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


def _media_plane(
    app: web.Application,
    redis: aioredis.Redis,
    gateway: Gateway,
    runtime: SignallingRuntime,
    *,
    media_hosts: tuple[str, ...] | None,
    node_secret: str,
) -> tuple[MediaBridge, SfuNode | None, PlacedNodes | None, EventListener | None]:
    """The media bridge: to an in-process node (``media_hosts`` given) or to placed remote nodes."""
    if media_hosts is not None:
        listeners: list[MediaBridge] = []

        def to_media(event: SfuEvent) -> None:
            listeners[0].on_sfu_event(event)

        node = SfuNode(ice_host_addresses=media_hosts or None, on_event=to_media)
        media = MediaBridge(SingleNode(LocalNode(node)), gateway, runtime.observe_speaker)
        listeners.append(media)
        return media, node, None, None
    placed = PlacedNodes(NodeRegistry(redis), redis, node_secret)
    media = MediaBridge(placed, gateway, runtime.observe_speaker)
    placed.observe_moves(media.space_moved)
    listener = EventListener(redis, media.on_node_message)

    async def node_events_ready() -> None:
        if not listener.subscribed.is_set():
            raise RuntimeError("not subscribed to media node events")

    app[READINESS_CHECKS_KEY]["node_events"] = node_events_ready
    return media, None, placed, listener


def install_edge(
    app: web.Application,
    redis: aioredis.Redis,
    *,
    secret_key: str,
    cookie_secure: bool,
    media_hosts: tuple[str, ...] | None,
    chat_window_ms: int = 100,
    node_secret: str = "",
) -> None:
    """Mount ``/api/v1`` and ``/socket.io/`` on ``app``; ``redis`` is closed by the caller.

    With ``media_hosts`` (``dev``), a media node runs in this process and offers ICE candidates
    on those addresses (``()``: every interface). Without it (``signal``), each space's media
    goes to the ``venuekit sfu`` node it is placed on, reached with ``node_secret``.
    """
    api = control_api.create_app(
        redis,
        secret_key=secret_key,
        cookie_secure=cookie_secure,
        attendance=LogAttendance(redis),
        analytics=AnalyticsService(redis),
        personal_data=personal_data_holders(redis),
    )
    app.add_subapp("/api/v1", api)

    keyring = Keyring(redis, secret_key)
    # The gateway needs its dispatcher, the dispatcher its chat bridge, and the bridge the
    # gateway: the bridge is bound to the chat service once both exist.
    runtime = SignallingRuntime(redis, StoreDirectory(VenueStore(redis)))
    gateway = Gateway(JoinTokenAdmitter(keyring, redis), runtime)
    bridge = ChatBridge(gateway)
    fanout = FanoutEngine(
        redis,
        bridge,
        instance_id=InstanceId(runtime.instance),
        config=FanoutConfig(window_ms=chat_window_ms),
    )
    bridge.bind(ChatService(ChatStore(redis), fanout))
    runtime.attach_chat(bridge)
    media, node, placed, listener = _media_plane(
        app, redis, gateway, runtime, media_hosts=media_hosts, node_secret=node_secret
    )
    runtime.attach_media(media)
    gateway.attach(app)
    app[RUNTIME_KEY] = runtime
    app[GATEWAY_KEY] = gateway

    async def chat_listener_ready() -> None:
        if not fanout.listener_up:
            raise RuntimeError("the chat fan-out cannot read its Redis streams")

    app[READINESS_CHECKS_KEY]["chat_listener"] = chat_listener_ready

    revocations = RevocationEnforcer(redis, gateway, on_erased=runtime.forget_participants)
    # every edge process is one consumer of the analytics group: live figures, billing, lag metrics
    # (small batches: the fold runs on this event loop, between socket events)
    analytics_worker = AnalyticsWorker(redis, consumer=f"an-{runtime.instance}", batch=100)

    async def run_runtime(_app: web.Application) -> AsyncIterator[None]:
        await fanout.start()
        if placed is not None and listener is not None:
            await placed.start()
            listener.start()
        await runtime.start(gateway)
        await revocations.start()
        await analytics_worker.start()
        yield
        await analytics_worker.stop()
        await revocations.stop()
        await runtime.stop()
        await fanout.stop()
        await media.stop()
        if placed is not None and listener is not None:
            await listener.stop()
            await placed.stop()
        if node is not None:
            await node.close()

    app.cleanup_ctx.append(run_runtime)
    app.cleanup_ctx.append(retention_context(RetentionJob(redis)))
