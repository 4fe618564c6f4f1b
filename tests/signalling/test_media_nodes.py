"""Placement as signalling instances use it, against a real Redis: agreement, moves, node events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from sfu.node import SfuError, SfuErrorCode, SfuEvent
from signalling.media_nodes import PlacedNodes
from signalling.node_client import RemoteNode
from signalling.node_events import CHANNEL, EventListener, EventPublisher, SpaceMoved, decode
from signalling.placement import NodeId, NodeRegistry
from signalling.tasks import stop_tasks

SECRET = "n" * 40
TTL_MS = 1000  # longer than a stall of a busy CI machine


class Instance:
    """One signalling instance's placement: its directory, its listener, the moves it saw."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.placed = PlacedNodes(
            NodeRegistry(redis, heartbeat_ttl_ms=TTL_MS), redis, SECRET, watch_interval_s=0.1
        )
        self.moved: list[str] = []
        self.events: list[tuple[str, SfuEvent]] = []
        self.tasks: list[asyncio.Task[None]] = []

        async def observe(space: str) -> None:
            self.moved.append(space)

        self.placed.observe_moves(observe)
        self.listener = EventListener(redis, self.on_message)

    def on_message(self, message: tuple[str, SfuEvent] | SpaceMoved) -> None:
        if isinstance(message, SpaceMoved):
            self.tasks.append(asyncio.create_task(self.placed.on_moved(message)))
        else:
            self.events.append(message)

    async def start(self) -> None:
        await self.placed.start()
        self.listener.start()
        await asyncio.wait_for(self.listener.subscribed.wait(), 5)

    async def stop(self) -> None:
        await self.listener.stop()
        await self.placed.stop()
        await asyncio.gather(*self.tasks)


@pytest.fixture
async def instances(redis_client: aioredis.Redis, redis_url: str) -> AsyncIterator[list[Instance]]:
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    made = [Instance(c) for c in clients]
    for instance in made:
        await instance.start()
    yield made
    for instance in made:
        await instance.stop()
    for client in clients:
        await client.aclose()


async def _beat_forever(registry: NodeRegistry, node: str, url: str) -> None:
    while True:
        await registry.heartbeat(NodeId(node), url, 0)
        await asyncio.sleep(TTL_MS / 4000)


async def _until(predicate: Any, timeout_s: float = 5.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def test_instances_agree_and_both_follow_a_move(
    redis_client: aioredis.Redis, instances: list[Instance]
) -> None:
    a, b = instances
    registry = NodeRegistry(redis_client, heartbeat_ttl_ms=TTL_MS)
    beats = {
        "n1": asyncio.create_task(_beat_forever(registry, "n1", "http://127.0.0.1:1")),
        "n2": asyncio.create_task(_beat_forever(registry, "n2", "http://127.0.0.1:2")),
    }
    try:
        await asyncio.sleep(0.05)
        first = await a.placed.node_for("ev/hall")
        second = await b.placed.node_for("ev/hall")
        assert isinstance(first, RemoteNode) and isinstance(second, RemoteNode)
        assert first.url == second.url, "every instance routes a space to the same node"
        host = a.placed.node_id_of("ev/hall")
        assert host is not None and b.placed.node_id_of("ev/hall") == host

        # that node stops beating: its key lapses, the watcher moves the space
        await stop_tasks([beats[host]])
        await _until(lambda: a.moved == ["ev/hall"] and b.moved == ["ev/hall"])
        survivor = "n2" if host == "n1" else "n1"
        assert (await a.placed.node_for("ev/hall")).url == f"http://127.0.0.1:{survivor[1]}"  # type: ignore[attr-defined]
        assert b.placed.node_id_of("ev/hall") is None  # forgotten; read again on next use
        assert (await b.placed.node_for("ev/hall")).url == f"http://127.0.0.1:{survivor[1]}"  # type: ignore[attr-defined]

        await stop_tasks([beats[survivor]])
        await asyncio.sleep(TTL_MS / 1000 + 0.3)
        a.placed.forget("ev/hall")
        with pytest.raises(SfuError) as caught:
            await a.placed.node_for("ev/new")
        assert caught.value.code is SfuErrorCode.NODE_UNREACHABLE
    finally:
        await stop_tasks(beats.values())


async def test_node_events_reach_every_instance_and_garbage_is_ignored(
    redis_client: aioredis.Redis, instances: list[Instance]
) -> None:
    publisher = EventPublisher(redis_client, "n9")
    publisher.start()
    try:
        await redis_client.publish(CHANNEL, b"\xff not json")
        await redis_client.publish(CHANNEL, '{"event": {"type": 5}}')
        publisher(SfuEvent("track_published", "ev/hall", "alice", "alice:0", {"x": 1}))
        await _until(lambda: all(i.events for i in instances))
    finally:
        await publisher.stop()
    for instance in instances:
        assert instance.events == [
            ("n9", SfuEvent("track_published", "ev/hall", "alice", "alice:0", {"x": 1}))
        ]


def test_decode_refuses_what_it_does_not_know() -> None:
    for raw in ("[]", "{}", '{"moved": 3}', '{"node": "n", "event": {"type": "t", "space_id": 1}}', "nope"):
        with pytest.raises(ValueError):
            decode(raw)
    assert decode('{"moved": {"space": "s", "from": "a", "to": null}}') == SpaceMoved("s", "a", None)
