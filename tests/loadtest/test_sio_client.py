"""The load generator's lean Socket.IO client against the real signalling gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from loadtest.sio import LeanClient, SocketIOError
from loadtest.stats import percentile, process_cpu_s, process_rss_mb
from signalling.gateway import Admitted, Connection, Gateway, GatewayError
from signalling.ids import EventId, ParticipantId
from signalling.kinds import Role
from signalling.members import Member


class Admitter:
    async def admit(self, token: str, now_s: float) -> Admitted:
        if token != "good":
            raise GatewayError("token_invalid", "bad token")
        member = Member(ParticipantId("p"), EventId("e"), "P", Role.ATTENDEE)
        return Admitted(member=member, org_id="o", token_id="t", expires_at_s=now_s + 60)


class Echo:
    def __init__(self, gateway: list[Gateway]) -> None:
        self._gateway = gateway
        self.disconnects = 0

    async def connected(self, conn: Connection) -> None:
        await self._gateway[0].emit("welcome", {"sid": conn.sid}, to=conn.sid)

    async def event(self, conn: Connection, name: str, payload: Any) -> Any:
        return {"echo": payload}

    async def disconnected(self, conn: Connection, reason: str) -> None:
        self.disconnects += 1


@pytest.fixture
async def base_url() -> AsyncIterator[tuple[str, Echo]]:
    holder: list[Gateway] = []
    echo = Echo(holder)
    gateway = Gateway(Admitter(), echo)
    holder.append(gateway)
    app = web.Application()
    gateway.attach(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/")), echo
    await server.close()


async def test_connect_emit_call_and_events(base_url: tuple[str, Echo]) -> None:
    url, echo = base_url
    events: list[tuple[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        client = LeanClient(session, lambda name, data: events.append((name, data)))
        await client.connect(url, {"token": "good"})
        assert client.connected and client.sid
        assert await client.call("ping", [1, "two"]) == {"ok": True, "data": {"echo": [1, "two"]}}
        for _ in range(50):
            if events:
                break
            await asyncio.sleep(0.02)
        assert events[0][0] == "welcome"
        await client.close()
        for _ in range(50):
            if echo.disconnects:
                break
            await asyncio.sleep(0.02)
        assert echo.disconnects == 1


async def test_refusal_carries_the_structured_error(base_url: tuple[str, Echo]) -> None:
    url, _ = base_url
    async with aiohttp.ClientSession() as session:
        client = LeanClient(session, lambda *_: None)
        with pytest.raises(SocketIOError) as info:
            await client.connect(url, {"token": "bad"})
        assert info.value.data == {"code": "token_invalid", "message": "bad token"}


async def test_drop_is_noticed_by_the_server(base_url: tuple[str, Echo]) -> None:
    url, echo = base_url
    async with aiohttp.ClientSession() as session:
        client = LeanClient(session, lambda *_: None)
        await client.connect(url, {"token": "good"})
        await client.drop()
        for _ in range(100):
            if echo.disconnects:
                break
            await asyncio.sleep(0.05)
        assert echo.disconnects == 1


def test_percentile_and_process_figures() -> None:
    assert percentile([], 99) == 0.0
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile(list(range(1, 101)), 99) == 99
    import os

    assert process_cpu_s(os.getpid()) > 0
    assert process_rss_mb(os.getpid()) > 1
