"""The ``venuekit sfu`` role: one media node, its network API, its events and its heartbeat.

The node (``sfu.node.SfuNode``) and its HTTP API (``sfu.server.NodeApi``) know nothing of
signalling; this module connects them to the two things signalling shares through Redis: the
node registry (``signalling.placement``: a heartbeat carrying the node's load and advertised
URL) and the node event channel (``signalling.node_events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator
from typing import Final

import redis.asyncio as aioredis
from aiohttp import web

from sfu.node import SfuNode
from sfu.server import NodeApi
from signalling.node_events import EventPublisher
from signalling.placement import NodeId, NodeRegistry
from venuekit.observability import READINESS_CHECKS_KEY
from venuekit.settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT_TTL_MS: Final = 3000


class SfuRole:
    """Owns the node and its heartbeat task; :meth:`announce` once the listening port is known."""

    def __init__(self, redis: aioredis.Redis, settings: Settings, node_secret: str) -> None:
        self.node_id = NodeId(f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}")
        self._registry = NodeRegistry(redis, heartbeat_ttl_ms=HEARTBEAT_TTL_MS)
        self._events = EventPublisher(redis, self.node_id)
        self.node = SfuNode(ice_host_addresses=settings.media_hosts or None, on_event=self._events)
        self._api = NodeApi(self.node, node_secret)
        self._advertise_host = settings.sfu_advertise_host or (
            "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        )
        self.url: str | None = None
        self._beats: asyncio.Task[None] | None = None
        self._last_beat_ok = False

    def install(self, app: web.Application) -> None:
        self._api.add_routes(app)
        app.cleanup_ctx.append(self._lifetime)

        async def registered() -> None:
            if not self._last_beat_ok:
                raise RuntimeError("the node has not registered in Redis yet")

        app[READINESS_CHECKS_KEY]["node_registered"] = registered

    async def announce(self, port: int) -> None:
        """Start the heartbeat: this node is alive at ``http://<advertised host>:<port>``."""
        self.url = f"http://{self._advertise_host}:{port}"
        await self._beat()
        self._beats = asyncio.create_task(self._run_heartbeat(), name="sfu-heartbeat")
        log.info("media node %s registered at %s", self.node_id, self.url)

    async def _beat(self) -> None:
        assert self.url is not None
        try:
            await self._registry.heartbeat(self.node_id, self.url, self.node.load())
            self._last_beat_ok = True
        except (OSError, aioredis.RedisError) as exc:
            self._last_beat_ok = False
            log.warning("node heartbeat failed: %s", exc)

    async def _run_heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_TTL_MS / 3000)
            await self._beat()

    async def _lifetime(self, _app: web.Application) -> AsyncIterator[None]:
        self._events.start()
        yield
        if self._beats is not None:
            self._beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beats
            with contextlib.suppress(OSError, aioredis.RedisError):
                await self._registry.leave(self.node_id)
        await self.node.close()
        await self._events.stop()


SFU_ROLE_KEY: Final = web.AppKey("sfu_role", SfuRole)


def install_sfu(app: web.Application, redis: aioredis.Redis, settings: Settings, node_secret: str) -> None:
    role = SfuRole(redis, settings, node_secret)
    role.install(app)
    app[SFU_ROLE_KEY] = role
