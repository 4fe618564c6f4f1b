"""The Socket.IO edge with real sockets on loopback: admission, errors, limits, compression."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from signalling.gateway import (
    Admitted,
    Connection,
    Gateway,
    GatewayError,
    TokenBucket,
)
from signalling.ids import EventId, ParticipantId
from signalling.kinds import Role
from signalling.members import Member

GATEWAY = web.AppKey("gateway", Gateway)


class FakeAdmitter:
    async def admit(self, token: str, now_s: float) -> Admitted:
        if token == "expired":
            raise GatewayError("token_expired", "the join token has expired")
        if not token.startswith("ok-"):
            raise GatewayError("token_invalid", "the join token is not valid")
        member = Member(ParticipantId(token[3:]), EventId("e1"), token[3:], Role.ATTENDEE)
        return Admitted(member=member, org_id="o1", token_id=token, expires_at_s=now_s + 60)


class RecordingDispatcher:
    def __init__(self) -> None:
        self.connected_ids: list[str] = []
        self.disconnected_ids: list[str] = []

    async def connected(self, conn: Connection) -> None:
        self.connected_ids.append(conn.admitted.member.participant_id)

    async def event(self, conn: Connection, name: str, payload: Any) -> Any:
        if name == "forbidden":
            raise GatewayError("forbidden", "attendees may not do that")
        if name == "boom":
            raise RuntimeError("a bug")
        return {"event": name, "payload": payload, "who": conn.admitted.member.participant_id}

    async def disconnected(self, conn: Connection, reason: str) -> None:
        self.disconnected_ids.append(conn.admitted.member.participant_id)


@pytest.fixture
async def server() -> AsyncIterator[tuple[TestServer, RecordingDispatcher]]:
    dispatcher = RecordingDispatcher()
    gateway = Gateway(FakeAdmitter(), dispatcher, events_per_s=5, events_burst=5)
    app = web.Application()
    gateway.attach(app)
    app[GATEWAY] = gateway
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    yield srv, dispatcher
    await srv.close()


async def _client(srv: TestServer, token: str | None) -> tuple[socketio.AsyncClient, list[Any]]:
    client = socketio.AsyncClient(reconnection=False)
    seen: list[Any] = []
    client.on("connect_error", lambda data: seen.append(("connect_error", data)))
    client.on("error", lambda data: seen.append(("error", data)))
    auth = {"token": token} if token is not None else None
    with contextlib.suppress(socketio.exceptions.ConnectionError):
        await client.connect(str(srv.make_url("/")), auth=auth, transports=["websocket"], wait_timeout=5)
    return client, seen


@pytest.mark.parametrize(
    ("token", "code"),
    [(None, "token_missing"), ("expired", "token_expired"), ("forged", "token_invalid")],
)
async def test_sockets_without_a_valid_token_are_refused(
    server: tuple[TestServer, RecordingDispatcher], token: str | None, code: str
) -> None:
    srv, dispatcher = server
    client, seen = await _client(srv, token)
    assert not client.connected
    assert seen and seen[0][0] == "connect_error"
    assert seen[0][1]["data"]["code"] == code
    assert seen[0][1]["message"] == seen[0][1]["data"]["message"] != ""
    assert dispatcher.connected_ids == []


async def test_events_reach_the_dispatcher_and_errors_are_structured(
    server: tuple[TestServer, RecordingDispatcher],
) -> None:
    srv, dispatcher = server
    alice, seen = await _client(srv, "ok-alice")
    bob, _ = await _client(srv, "ok-bob")
    assert dispatcher.connected_ids == ["alice", "bob"]

    reply = await alice.call("hello", {"x": 1}, timeout=5)
    assert reply == {"ok": True, "data": {"event": "hello", "payload": {"x": 1}, "who": "alice"}}

    refused = await alice.call("forbidden", {}, timeout=5)
    assert refused["ok"] is False
    assert refused["error"]["code"] == "forbidden"

    crashed = await alice.call("boom", None, timeout=5)
    assert crashed == {
        "ok": False,
        "error": {"code": "internal_error", "message": "the server could not handle this event"},
    }
    assert "Traceback" not in str(crashed)
    # a failing handler harms nobody else
    assert (await bob.call("hello", "still here", timeout=5))["ok"] is True
    await asyncio.sleep(0.1)
    assert [kind for kind, _ in seen] == ["error", "error"]

    await alice.disconnect()
    await bob.disconnect()
    for _ in range(50):
        if len(dispatcher.disconnected_ids) == 2:
            break
        await asyncio.sleep(0.05)
    assert sorted(dispatcher.disconnected_ids) == ["alice", "bob"]


async def test_each_socket_is_rate_limited_on_its_own(
    server: tuple[TestServer, RecordingDispatcher],
) -> None:
    srv, _ = server
    noisy, _ = await _client(srv, "ok-noisy")
    quiet, _ = await _client(srv, "ok-quiet")
    replies = [await noisy.call("spam", i, timeout=5) for i in range(8)]
    limited = [r for r in replies if not r["ok"]]
    assert limited, "the burst of 5 must run out"
    assert limited[0]["error"]["code"] == "rate_limited"
    assert "retry in" in limited[0]["error"]["message"]
    assert (await quiet.call("hello", None, timeout=5))["ok"] is True
    await noisy.disconnect()
    await quiet.disconnect()


async def test_websocket_refuses_per_message_compression(
    server: tuple[TestServer, RecordingDispatcher],
) -> None:
    """Browsers offer permessage-deflate; the server must not accept it (it deflates per recipient)."""
    srv, _ = server
    url = srv.make_url("/socket.io/").with_query(EIO="4", transport="websocket")
    async with aiohttp.ClientSession() as session, session.ws_connect(url, compress=15) as ws:
        assert ws.compress == 0
        opening = await ws.receive_str(timeout=5)
        assert opening.startswith("0{")


async def test_oversized_messages_close_only_that_socket(
    server: tuple[TestServer, RecordingDispatcher],
) -> None:
    srv, _ = server
    big, _ = await _client(srv, "ok-big")
    small, _ = await _client(srv, "ok-small")
    await big.emit("hello", "x" * (128 * 1024))
    for _ in range(100):
        if not big.connected:
            break
        await asyncio.sleep(0.05)
    assert not big.connected
    assert (await small.call("hello", None, timeout=5))["ok"] is True
    await small.disconnect()


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate_per_s=2, burst=3)
    assert [bucket.take(1000) for _ in range(3)] == [0, 0, 0]
    wait_ms = bucket.take(1000)
    assert 0 < wait_ms <= 500
    assert bucket.take(1000 + wait_ms) == 0
    assert bucket.take(10_000) == 0  # refilled, but never beyond the burst
    assert [bucket.take(10_000) for _ in range(3)][-1] > 0


async def test_broadcast_raw_writes_one_frame_to_the_room_only(
    server: tuple[TestServer, RecordingDispatcher],
) -> None:
    srv, _ = server
    gateway = srv.app[GATEWAY]
    clients = [await _client(srv, f"ok-{name}") for name in ("in1", "in2", "out")]
    got: dict[str, list[Any]] = {"in1": [], "in2": [], "out": []}
    for (client, _seen), name in zip(clients, got, strict=True):
        client.on("batch", lambda data, name=name: got[name].append(data))
    sids = list(gateway.connections)
    for sid in sids[:2]:
        await gateway.enter_room(sid, "room-1")
    reached = await gateway.broadcast_raw("batch", '{"items":[1,2,3]}', room="room-1")
    assert reached == 2
    for _ in range(50):
        if got["in1"] and got["in2"]:
            break
        await asyncio.sleep(0.02)
    assert got["in1"] == got["in2"] == [{"items": [1, 2, 3]}]
    assert got["out"] == []
    for client, _seen in clients:
        await client.disconnect()


async def test_a_socket_that_does_not_read_is_dropped_from_broadcasts(
    server: tuple[TestServer, RecordingDispatcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    import signalling.gateway as gateway_module

    srv, dispatcher = server
    gateway = srv.app[GATEWAY]
    client, _seen = await _client(srv, "ok-laggard")
    sid = next(iter(gateway.connections))
    await gateway.enter_room(sid, "room-1")
    monkeypatch.setattr(gateway_module, "SLOW_CONSUMER_BYTES", -1)  # everyone counts as behind
    assert await gateway.broadcast_raw("batch", "{}", room="room-1") == 0
    for _ in range(100):
        if dispatcher.disconnected_ids:
            break
        await asyncio.sleep(0.02)
    assert dispatcher.disconnected_ids == ["laggard"]
    await client.disconnect()


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 70_000])
async def test_broadcast_frames_are_the_bytes_aiohttp_would_write(size: int) -> None:
    from unittest import mock

    from aiohttp._websocket.writer import WebSocketWriter

    from signalling.gateway import websocket_text_frame

    written: list[bytes] = []
    transport = mock.Mock()
    transport.is_closing.return_value = False
    transport.write.side_effect = lambda data: written.append(bytes(data))
    payload = ("é" * size).encode()[:size] if size else b""
    await WebSocketWriter(mock.Mock(transport=transport), transport).send_frame(payload, 0x1)
    assert websocket_text_frame(payload) == b"".join(written)


async def test_stopping_the_server_closes_every_socket_before_its_cleanup() -> None:
    """aiohttp waits for running handlers before the application's cleanup (the venue runtime,
    the media node), and a WebSocket's handler lasts as long as its socket: a server stopped
    with anyone connected ran past its shutdown deadline (found as ``venuekit dev`` logging
    "the application did not stop within 15 s" after a browser test had left its pages open).
    Engine.IO's close packet alone does not end the socket: browsers ignore it, as this client
    does, so the server closes the WebSocket itself, as "going away" (clients reconnect)."""
    dispatcher = RecordingDispatcher()
    gateway = Gateway(FakeAdmitter(), dispatcher)
    app = web.Application()
    gateway.attach(app)
    at_cleanup: list[list[str]] = []

    async def cleanup(_app: web.Application) -> None:  # where the runtime and media node stop
        at_cleanup.append(list(dispatcher.disconnected_ids))

    app.on_cleanup.append(cleanup)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()  # aiohttp's default shutdown timeout: 60 s
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(srv.make_url("/socket.io/?EIO=4&transport=websocket"))
        assert (await ws.receive_str()).startswith("0")  # Engine.IO open
        await ws.send_str('40{"token": "ok-ann"}')  # Socket.IO connect
        assert (await ws.receive_str()).startswith("40")
        assert dispatcher.connected_ids == ["ann"]
        stopping = asyncio.create_task(srv.close())
        frames: list[aiohttp.WSMessage] = []
        while not ws.closed:  # read (and ignore) whatever comes, as a browser would
            frames.append(await asyncio.wait_for(ws.receive(), 30))  # a safety net, not a measure
        await asyncio.wait_for(stopping, 30)  # a safety net: without the close, 60 s and more
    assert at_cleanup == [["ann"]]  # the venue heard of it while the application still ran
    assert frames[-1].type is aiohttp.WSMsgType.CLOSE, frames
    assert ws.close_code == aiohttp.WSCloseCode.GOING_AWAY
