"""Which media node hosts a space: one in-process node, or nodes placed through the registry.

:class:`SingleNode` is ``venuekit dev``: every space on the one node in the process.

:class:`PlacedNodes` is ``venuekit signal``: the first call for a space places it atomically on
the least-loaded live ``venuekit sfu`` node (:class:`~signalling.placement.NodeRegistry`), so
every signalling instance routes it to the same node. Each instance also runs a watcher that
moves the spaces of nodes whose heartbeat lapsed (the Lua script reports each move to exactly
one caller) and announces every move on the node event channel; each instance then forgets the
old placement and tells :class:`MoveObserver` (the media bridge), which renegotiates the space's
local participants on the new node.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Final, Protocol

import aiohttp
import redis.asyncio as aioredis
from prometheus_client import Counter

from sfu.node import SfuError, SfuErrorCode
from signalling.ids import SpaceId
from signalling.node_client import MediaNode, RemoteNode
from signalling.node_events import CHANNEL as EVENTS_CHANNEL
from signalling.node_events import SpaceMoved, encode_move
from signalling.placement import NodeId, NodeRegistry, NoLiveNodeError
from signalling.tasks import stop_tasks

log = logging.getLogger(__name__)

SPACE_MOVES: Final = Counter(
    "venuekit_signal_space_moves_total", "Spaces this instance placed again after their node died"
)


class NodeDirectory(Protocol):
    """The media bridge's view of placement."""

    async def node_for(self, space: str) -> MediaNode: ...
    def node_id_of(self, space: str) -> str | None: ...
    def forget(self, space: str) -> None: ...
    async def on_moved(self, move: SpaceMoved) -> None: ...


class SingleNode:
    """Every space on one node (``venuekit dev``'s in-process node)."""

    NODE_ID: Final = "local"

    def __init__(self, node: MediaNode) -> None:
        self._node = node

    async def node_for(self, space: str) -> MediaNode:
        return self._node

    def node_id_of(self, space: str) -> str | None:
        return self.NODE_ID

    def forget(self, space: str) -> None:
        pass

    async def on_moved(self, move: SpaceMoved) -> None:
        pass  # one node: nothing ever moves


MoveObserver = Callable[[str], Awaitable[None]]


class PlacedNodes:
    """Spaces on ``venuekit sfu`` nodes chosen by the registry; owns the dead-node watcher."""

    def __init__(
        self,
        registry: NodeRegistry,
        redis: aioredis.Redis,
        secret: str,
        *,
        watch_interval_s: float = 1.0,
    ) -> None:
        self._registry = registry
        self._redis = redis
        self._secret = secret
        self._watch_interval_s = watch_interval_s
        self._placed: dict[str, tuple[NodeId, str]] = {}  # space -> (node, url)
        self._clients: dict[str, RemoteNode] = {}  # by url
        self._session: aiohttp.ClientSession | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._on_move: MoveObserver | None = None

    def observe_moves(self, observer: MoveObserver) -> None:
        self._on_move = observer

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=256, limit_per_host=64, keepalive_timeout=30)
        )
        self._watcher = asyncio.create_task(self._watch(), name="signal-dead-node-watcher")

    async def stop(self) -> None:
        if self._watcher is not None:
            await stop_tasks([self._watcher])
            self._watcher = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def node_for(self, space: str) -> MediaNode:
        if self._session is None:
            raise SfuError(SfuErrorCode.NODE_CLOSED, "media routing is not running")
        placed = self._placed.get(space)
        if placed is None:
            try:
                placement = await self._registry.place(SpaceId(space))
            except NoLiveNodeError as exc:
                raise SfuError(SfuErrorCode.NODE_UNREACHABLE, str(exc)) from None
            except (OSError, aioredis.RedisError) as exc:
                raise SfuError(SfuErrorCode.NODE_UNREACHABLE, f"placement unavailable: {exc}") from None
            placed = self._placed[space] = (placement.node, placement.url)
            if placement.moved:  # this call found the old node dead before the watcher did
                await self._announce(SpaceMoved(space, "", placement.node))
        url = placed[1]
        client = self._clients.get(url)
        if client is None:
            client = self._clients[url] = RemoteNode(url, self._secret, self._session)
        return client

    def node_id_of(self, space: str) -> str | None:
        placed = self._placed.get(space)
        return None if placed is None else placed[0]

    def forget(self, space: str) -> None:
        """Read the placement from Redis again on the next call (its node did not answer)."""
        self._placed.pop(space, None)

    async def on_moved(self, move: SpaceMoved) -> None:
        """A move announced on the channel (by any instance, this one included)."""
        self._placed.pop(move.space, None)
        if self._on_move is not None and move.to_node is not None:
            await self._on_move(move.space)

    async def _announce(self, move: SpaceMoved) -> None:
        SPACE_MOVES.inc()
        log.info("space %s moved from node %s to %s", move.space, move.from_node or "?", move.to_node)
        await self._redis.publish(EVENTS_CHANNEL, encode_move(move))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._watch_interval_s)
            try:
                for move in await self._registry.replace_dead_nodes():
                    await self._announce(SpaceMoved(move.space, move.from_node, move.to_node))
            except (OSError, aioredis.RedisError) as exc:
                log.warning("dead-node watcher: %s", exc)
