"""Fixtures of the privacy tests: the control API with every holder of personal data wired in
(chat, analytics, the venue log), as ``venuekit/edge.py`` wires it, on a real loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestServer

from tests.control_api.conftest import ClientFactory, Org, build_root, clients_of, make_org
from venuekit.privacy import personal_data_holders


@pytest.fixture
async def server(redis_client: aioredis.Redis) -> AsyncIterator[TestServer]:
    root = build_root(redis_client, personal_data=personal_data_holders(redis_client), sweep_interval_s=None)
    srv = TestServer(root, host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


@pytest.fixture
async def new_client(server: TestServer) -> AsyncIterator[ClientFactory]:
    async with clients_of(server) as make:
        yield make


@pytest.fixture
async def org(new_client: ClientFactory) -> Org:
    return await make_org(new_client, "Acme")


@pytest.fixture
async def other_org(new_client: ClientFactory) -> Org:
    return await make_org(new_client, "Globex")
