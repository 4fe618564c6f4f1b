"""Node events and space moves, carried from media nodes to every signalling instance by Redis pub/sub.

One channel, ``{vk:sfu}:events``, carries two kinds of JSON messages:

- ``{"node": id, "event": {type, space_id, participant_id, track_id, data}}``: an
  :class:`~sfu.node.SfuEvent` of a ``venuekit sfu`` node (published by :class:`EventPublisher`,
  which the composition root gives the node as its ``on_event``);
- ``{"moved": {space, from, to}}``: a space placed again after its node's heartbeat lapsed
  (published by the signalling instance whose script made the move).

Pub/sub is at most once, and that is what these are: an event lost while an instance is
reconnecting is as if it happened just before it connected; a lost move is noticed on the
first call that fails to reach the old node (see :mod:`signalling.media_nodes`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import redis.asyncio as aioredis

from sfu.node import SfuEvent
from signalling.tasks import stop_tasks

log = logging.getLogger(__name__)

CHANNEL: Final = "{vk:sfu}:events"
MAX_PENDING: Final = 10_000


@dataclass(frozen=True, slots=True)
class SpaceMoved:
    space: str
    from_node: str
    to_node: str | None


def encode_event(node_id: str, event: SfuEvent) -> str:
    return json.dumps(
        {
            "node": node_id,
            "event": {
                "type": event.type,
                "space_id": event.space_id,
                "participant_id": event.participant_id,
                "track_id": event.track_id,
                "data": dict(event.data),
            },
        }
    )


def encode_move(move: SpaceMoved) -> str:
    return json.dumps({"moved": {"space": move.space, "from": move.from_node, "to": move.to_node}})


def _opt_str(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("expected a string or null")
    return value


def decode(raw: bytes | str) -> tuple[str, SfuEvent] | SpaceMoved:
    """A message of :data:`CHANNEL`; ``ValueError`` for anything else."""
    msg: Any = json.loads(raw)
    if not isinstance(msg, dict):
        raise ValueError("not a JSON object")
    if "moved" in msg:
        moved = msg["moved"]
        if not isinstance(moved, dict) or not isinstance(moved.get("space"), str):
            raise ValueError("bad move")
        return SpaceMoved(moved["space"], str(moved.get("from")), _opt_str(moved.get("to")))
    event, node = msg.get("event"), msg.get("node")
    if not isinstance(event, dict) or not isinstance(node, str):
        raise ValueError("neither an event nor a move")
    kind, space = event.get("type"), event.get("space_id")
    data = event.get("data") or {}
    if not isinstance(kind, str) or not isinstance(space, str) or not isinstance(data, dict):
        raise ValueError("bad event")
    return node, SfuEvent(
        kind, space, _opt_str(event.get("participant_id")), _opt_str(event.get("track_id")), data
    )


class EventPublisher:
    """A node's ``on_event``: queues each event and publishes it in order on one owned task."""

    def __init__(self, redis: aioredis.Redis, node_id: str) -> None:
        self._redis = redis
        self._node_id = node_id
        self._queue: asyncio.Queue[str] = asyncio.Queue(MAX_PENDING)
        self._task: asyncio.Task[None] | None = None

    def __call__(self, event: SfuEvent) -> None:
        try:
            self._queue.put_nowait(encode_event(self._node_id, event))
        except asyncio.QueueFull:
            log.warning("node event queue full; dropped %s", event.type)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sfu-event-publisher")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_tasks([self._task])
            self._task = None

    async def _run(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self._redis.publish(CHANNEL, message)
            except (OSError, aioredis.RedisError) as exc:
                log.warning("cannot publish a node event: %s", exc)
                await asyncio.sleep(0.5)


Handler = Callable[[tuple[str, SfuEvent] | SpaceMoved], None]


class EventListener:
    """Reads :data:`CHANNEL` on an owned task and hands each valid message to ``handler``."""

    def __init__(self, redis: aioredis.Redis, handler: Handler) -> None:
        self._redis = redis
        self._handler = handler
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="signal-node-events")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_tasks([self._task])
            self._task = None

    async def _run(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                self.subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    try:
                        decoded = decode(message["data"])
                    except (ValueError, TypeError) as exc:
                        log.warning("ignored a malformed node event: %s", exc)
                        continue
                    try:
                        self._handler(decoded)
                    except Exception:  # one bad message must not stop the listener
                        log.exception("node event handler failed")
            except (OSError, aioredis.RedisError) as exc:
                self.subscribed.clear()
                log.warning("node events: %s; resubscribing", exc)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
