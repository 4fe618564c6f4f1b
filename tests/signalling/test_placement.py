"""Space placement on SFU nodes, against a real Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from signalling.placement import NodeId, NodeRegistry, NoLiveNodeError, SpaceId
from signalling.tasks import stop_tasks


@pytest.fixture
def registry(redis_client: aioredis.Redis) -> NodeRegistry:
    return NodeRegistry(redis_client, heartbeat_ttl_ms=1000)  # longer than a stall of a busy CI machine


async def test_first_join_places_on_least_loaded_live_node(registry: NodeRegistry) -> None:
    await registry.heartbeat(NodeId("a"), "http://a", load=5)
    await registry.heartbeat(NodeId("b"), "http://b", load=1)
    placement = await registry.place(SpaceId("s1"))
    assert (placement.node, placement.url, placement.moved) == ("b", "http://b", False)
    # the same space stays where it is, even when another node becomes freer
    await registry.heartbeat(NodeId("a"), "http://a", load=0)
    assert (await registry.place(SpaceId("s1"))).node == "b"


async def test_placements_spread_before_the_next_heartbeat(registry: NodeRegistry) -> None:
    for node in ("a", "b", "c"):
        await registry.heartbeat(NodeId(node), f"http://{node}", load=0)
    nodes = [(await registry.place(SpaceId(f"s{i}"))).node for i in range(6)]
    assert sorted(nodes) == ["a", "a", "b", "b", "c", "c"]


async def test_concurrent_first_joins_agree(redis_client: aioredis.Redis) -> None:
    """Many signalling instances racing on one space all get the same node."""
    registries = [NodeRegistry(redis_client) for _ in range(20)]
    for node in ("a", "b", "c", "d"):
        await registries[0].heartbeat(NodeId(node), f"http://{node}", load=0)
    placements = await asyncio.gather(*(r.place(SpaceId("contested")) for r in registries))
    assert len({p.node for p in placements}) == 1
    assert await redis_client.scard(f"{{vk:sfu}}:spaces:{placements[0].node}") == 1


async def test_no_live_node_is_a_clear_error(registry: NodeRegistry) -> None:
    with pytest.raises(NoLiveNodeError) as info:
        await registry.place(SpaceId("s"))
    assert info.value.code == "no_media_node"


async def test_dead_node_spaces_move_to_live_nodes(registry: NodeRegistry) -> None:
    await registry.heartbeat(NodeId("doomed"), "http://doomed", load=0)
    await registry.heartbeat(NodeId("steady"), "http://steady", load=10)
    doomed_spaces = [SpaceId(f"s{i}") for i in range(3)]
    for space in doomed_spaces:
        assert (await registry.place(space)).node == "doomed"

    async def keep_steady_alive() -> None:
        while True:
            await registry.heartbeat(NodeId("steady"), "http://steady", load=10)
            await asyncio.sleep(0.05)

    beating = asyncio.create_task(keep_steady_alive())
    try:
        for _ in range(100):  # the doomed node's heartbeat lapses after 1 s
            if "doomed" not in await registry.live_nodes():
                break
            await asyncio.sleep(0.05)
        moves = await registry.replace_dead_nodes()
        assert sorted(m.space for m in moves) == doomed_spaces
        assert {(m.from_node, m.to_node) for m in moves} == {("doomed", "steady")}
        assert await registry.replace_dead_nodes() == [], "each move is reported once"
        for space in doomed_spaces:
            assert await registry.where(space) == "steady"
            placement = await registry.place(space)
            assert placement.node == "steady" and not placement.moved
    finally:
        await stop_tasks([beating])


async def test_place_moves_a_space_whose_node_died_without_a_reaper(registry: NodeRegistry) -> None:
    await registry.heartbeat(NodeId("a"), "http://a", load=0)
    await registry.place(SpaceId("s"))
    await registry.leave(NodeId("a"))
    await registry.heartbeat(NodeId("b"), "http://b", load=3)
    placement = await registry.place(SpaceId("s"))
    assert (placement.node, placement.moved) == ("b", True)


async def test_release_forgets_a_closed_space(registry: NodeRegistry) -> None:
    await registry.heartbeat(NodeId("a"), "http://a", load=0)
    await registry.place(SpaceId("s"))
    assert await registry.release(SpaceId("s")) == "a"
    assert await registry.where(SpaceId("s")) is None
    assert await registry.release(SpaceId("s")) is None
