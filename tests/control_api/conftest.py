"""Fixtures of the control API tests: the API mounted at /api/v1 on a real loopback server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from control_api import create_app
from tests.control_api.support import PASSWORD, SECRET_KEY, Api

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


def build_root(redis: aioredis.Redis, **options: Any) -> web.Application:
    root = web.Application()
    options.setdefault("cookie_secure", False)
    options.setdefault("password_hasher", CHEAP_HASHER)
    root.add_subapp("/api/v1", create_app(redis, secret_key=SECRET_KEY, **options))
    return root


@dataclass
class Org:
    """A signed-up organisation with its owner signed in on ``api``."""

    id: str
    owner_id: str
    email: str
    api: Api


ClientFactory = Callable[[], Awaitable[Api]]


@pytest.fixture
async def server(redis_client: aioredis.Redis) -> AsyncIterator[TestServer]:
    srv = TestServer(build_root(redis_client), host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


@contextlib.asynccontextmanager
async def clients_of(server: TestServer) -> AsyncIterator[ClientFactory]:
    """A maker of fresh clients (each with its own cookie jar) of ``server``; closes them all."""
    clients: list[TestClient[web.Request, web.Application]] = []

    async def make() -> Api:
        client: TestClient[web.Request, web.Application] = TestClient(server)
        await client.start_server()
        clients.append(client)
        return Api(client)

    try:
        yield make
    finally:
        for client in clients:
            await client.close()


@pytest.fixture
async def new_client(server: TestServer) -> AsyncIterator[ClientFactory]:
    async with clients_of(server) as make:
        yield make


async def sign_in(api: Api, email: str, password: str = PASSWORD) -> str:
    """Log in on ``api``; sends the CSRF header from then on. Returns the user id."""
    reply = await api.post("/sessions", {"email": email, "password": password}, expect=201)
    api.headers["X-CSRF-Token"] = reply.body["csrf_token"]
    return str(reply.body["user_id"])


async def make_org(new_client: ClientFactory, name: str = "Acme") -> Org:
    api = await new_client()
    email = f"owner-{name.lower()}@example.com"
    reply = await api.post(
        "/orgs",
        {"name": name, "owner": {"email": email, "password": PASSWORD, "name": f"{name} Owner"}},
        expect=201,
    )
    await sign_in(api, email)
    return Org(reply.body["org"]["id"], reply.body["owner_user_id"], email, api)


@pytest.fixture
async def org(new_client: ClientFactory) -> Org:
    return await make_org(new_client, "Acme")


@pytest.fixture
async def other_org(new_client: ClientFactory) -> Org:
    return await make_org(new_client, "Globex")
