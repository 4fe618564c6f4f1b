"""Horizontal sharding by room: the SFU node registry and atomic placement of spaces on nodes.

Nodes announce themselves with a heartbeat (a key that expires unless refreshed) carrying their
advertised URL, and their load; ``venuekit sfu`` does it through ``venuekit/sfu_role.py``, since
``sfu/`` may not import signalling. The first join of a space places it on the least-loaded
live node in one Lua script, so two signalling instances racing on the same space always
agree. When a node's heartbeat lapses, :meth:`NodeRegistry.replace_dead_nodes` moves its
spaces to live nodes, again in one script, and returns the moves so the caller can tell those
spaces' clients to renegotiate.

Every key lives under the hash tag ``{vk:sfu}`` so the scripts touch a single Redis Cluster
slot. Keys built inside the scripts (per-node keys) share that tag; Redis Cluster serves them
from the same slot.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final, NewType

import redis.asyncio as aioredis

from signalling.ids import SpaceId

NodeId = NewType("NodeId", str)

_TAG: Final = "{vk:sfu}"
NODES_KEY: Final = f"{_TAG}:nodes"  # ZSET node -> load score
PLACEMENT_KEY: Final = f"{_TAG}:placement"  # HASH space -> node
ALIVE_PREFIX: Final = f"{_TAG}:alive:"  # STRING node url, expires without heartbeats
SPACES_PREFIX: Final = f"{_TAG}:spaces:"  # SET of the spaces placed on a node

SPACE_LOAD: Final = 1.0
"""Load a placement adds to a node until its next heartbeat reports the real figure."""

_HEARTBEAT = """
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
"""

# Pick the live node with the lowest load; drop dead ones from the ZSET as we meet them.
_PICK = """
local function pick(nodes_key, alive_prefix)
  local nodes = redis.call('ZRANGE', nodes_key, 0, -1)
  for _, id in ipairs(nodes) do
    if redis.call('EXISTS', alive_prefix .. id) == 1 then
      return id
    end
  end
  return false
end
"""

_PLACE = (
    _PICK
    + """
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current and redis.call('EXISTS', ARGV[2] .. current) == 1 then
  return {current, 0}
end
local node = pick(KEYS[1], ARGV[2])
if not node then
  return {false, 0}
end
redis.call('HSET', KEYS[2], ARGV[1], node)
redis.call('SADD', ARGV[3] .. node, ARGV[1])
redis.call('ZINCRBY', KEYS[1], ARGV[4], node)
if current then
  redis.call('SREM', ARGV[3] .. current, ARGV[1])
  return {node, 2}
end
return {node, 1}
"""
)

_REPLACE_DEAD = (
    _PICK
    + """
local moves = {}
local nodes = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, dead in ipairs(nodes) do
  if redis.call('EXISTS', ARGV[1] .. dead) == 0 then
    redis.call('ZREM', KEYS[1], dead)
    local spaces = redis.call('SMEMBERS', ARGV[2] .. dead)
    for _, space in ipairs(spaces) do
      local node = pick(KEYS[1], ARGV[1])
      if node then
        redis.call('HSET', KEYS[2], space, node)
        redis.call('SADD', ARGV[2] .. node, space)
        redis.call('ZINCRBY', KEYS[1], ARGV[3], node)
        table.insert(moves, {space, dead, node})
      else
        redis.call('HDEL', KEYS[2], space)
        table.insert(moves, {space, dead, false})
      end
    end
    redis.call('DEL', ARGV[2] .. dead)
  end
end
return moves
"""
)

_RELEASE = """
local node = redis.call('HGET', KEYS[1], ARGV[1])
if node then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('SREM', ARGV[2] .. node, ARGV[1])
  return node
end
return false
"""


class NoLiveNodeError(RuntimeError):
    """No SFU node has a live heartbeat: media cannot be placed anywhere."""

    code: Final = "no_media_node"


@dataclasses.dataclass(frozen=True, slots=True)
class Placement:
    node: NodeId
    url: str
    moved: bool
    """True when the space was on a node that died and has just been placed again."""


@dataclasses.dataclass(frozen=True, slots=True)
class Move:
    space: SpaceId
    from_node: NodeId
    to_node: NodeId | None
    """None when no live node was left to take the space."""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class NodeRegistry:
    """Reads and writes the node registry and the space placements in Redis."""

    def __init__(self, redis: aioredis.Redis, *, heartbeat_ttl_ms: int = 3000) -> None:
        self._redis = redis
        self.heartbeat_ttl_ms = heartbeat_ttl_ms
        self._heartbeat = redis.register_script(_HEARTBEAT)
        self._place = redis.register_script(_PLACE)
        self._replace_dead = redis.register_script(_REPLACE_DEAD)
        self._release = redis.register_script(_RELEASE)

    async def heartbeat(self, node: NodeId, url: str, load: float) -> None:
        """Announce ``node`` as alive at ``url`` with its current ``load`` (lower is freer)."""
        await self._heartbeat(
            keys=[NODES_KEY, ALIVE_PREFIX + node], args=[node, url, self.heartbeat_ttl_ms, load]
        )

    async def leave(self, node: NodeId) -> None:
        """A node shutting down cleanly stops being a placement target at once."""
        await self._redis.delete(ALIVE_PREFIX + node)

    async def node_url(self, node: NodeId) -> str | None:
        url = await self._redis.get(ALIVE_PREFIX + node)
        return None if url is None else _text(url)

    async def live_nodes(self) -> dict[NodeId, float]:
        """Live nodes and their load score."""
        entries: list[Any] = await self._redis.zrange(NODES_KEY, 0, -1, withscores=True)
        result: dict[NodeId, float] = {}
        for raw, score in entries:
            node = NodeId(_text(raw))
            if await self._redis.exists(ALIVE_PREFIX + node):
                result[node] = float(score)
        return result

    async def place(self, space: SpaceId) -> Placement:
        """The node hosting ``space``; on first use (or if its node died) choose one atomically."""
        for _attempt in range(3):  # the chosen node may lapse between the script and the GET
            result: list[Any] = await self._place(
                keys=[NODES_KEY, PLACEMENT_KEY], args=[space, ALIVE_PREFIX, SPACES_PREFIX, SPACE_LOAD]
            )
            node_raw, state = result
            if node_raw is None:
                raise NoLiveNodeError("no SFU node is alive to host this space")
            node = NodeId(_text(node_raw))
            url = await self.node_url(node)
            if url is not None:
                return Placement(node=node, url=url, moved=int(state) == 2)
        raise NoLiveNodeError("SFU nodes keep disappearing; try again")

    async def where(self, space: SpaceId) -> NodeId | None:
        node = await self._redis.hget(PLACEMENT_KEY, space)
        return None if node is None else NodeId(_text(node))

    async def release(self, space: SpaceId) -> NodeId | None:
        """Forget the placement of a space that has closed."""
        node = await self._release(keys=[PLACEMENT_KEY], args=[space, SPACES_PREFIX])
        return None if node is None else NodeId(_text(node))

    async def replace_dead_nodes(self) -> list[Move]:
        """Move every space of every node whose heartbeat lapsed; each move is reported once."""
        raw: list[list[Any]] = await self._replace_dead(
            keys=[NODES_KEY, PLACEMENT_KEY], args=[ALIVE_PREFIX, SPACES_PREFIX, SPACE_LOAD]
        )
        return [
            Move(
                space=SpaceId(_text(space)),
                from_node=NodeId(_text(dead)),
                to_node=None if node is None else NodeId(_text(node)),
            )
            for space, dead, node in raw
        ]
