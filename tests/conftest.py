"""Fixtures shared by the whole suite: a real Redis started on a free port, a real `venuekit dev`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.support.processes import Role
from tests.support.redis_server import RedisServer

pytest_plugins = ["tests.support.browser"]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real ``redis-server`` for the whole session (AOF on)."""
    server = RedisServer(Path(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    return redis_server.url


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A client of the session's Redis, emptied before each test."""
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Role]:
    """A real ``venuekit dev`` process (with its private Redis), one per test module."""
    role = Role("dev", Path(tmp_path_factory.mktemp("dev")))
    try:  # a failed start must not leave the process running after the suite
        role.wait_ready()
        yield role
    finally:
        role.stop()
