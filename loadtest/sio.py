"""A lean Socket.IO v5 client over one aiohttp WebSocket, for load generation.

Thousands of simulated participants in one process cannot each afford python-socketio's client
(its own session, reconnection machinery and tasks). This speaks the same wire protocol a
browser's official client speaks over the ``websocket`` transport (Engine.IO v4 framing, text
packets only): connect with ``auth``, answer pings, emit with or without acknowledgement, and
hand every server event to a callback. Browsers ask for permessage-deflate, so it does too by
default (``compress=15``) to load the server the way real clients do.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

EventHandler = Callable[[str, Any], None]


class SocketIOError(RuntimeError):
    """The server refused the connection or closed it; ``data`` is what it said."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.data = data


class LeanClient:
    """One Socket.IO connection on the default namespace."""

    def __init__(self, session: aiohttp.ClientSession, on_event: EventHandler, *, compress: int = 15):
        self._session = session
        self._on_event = on_event
        self._compress = compress
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self.sid: str | None = None
        self.closed = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed and not self.closed.is_set()

    async def connect(self, base_url: str, auth: dict[str, Any], timeout_s: float = 10.0) -> None:
        url = base_url.rstrip("/") + "/socket.io/?EIO=4&transport=websocket"
        url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        self.closed.clear()
        self._ws = await self._session.ws_connect(
            url, compress=self._compress, heartbeat=None, timeout=aiohttp.ClientWSTimeout(ws_close=timeout_s)
        )
        opening = await self._ws.receive(timeout=timeout_s)
        if opening.type is not aiohttp.WSMsgType.TEXT or not opening.data.startswith("0"):
            raise SocketIOError(f"unexpected Engine.IO opening {opening.data!r}")
        await self._ws.send_str("40" + orjson.dumps(auth).decode())
        early: list[str] = []  # events sent before the CONNECT ack; a browser buffers them too
        while True:
            msg = await self._ws.receive(timeout=timeout_s)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise SocketIOError(f"connection closed during connect ({msg.type.name})")
            if msg.data == "2":
                await self._ws.send_str("3")
                continue
            if msg.data.startswith("40"):
                self.sid = orjson.loads(msg.data[2:]).get("sid")
                break
            if msg.data.startswith("42"):
                early.append(msg.data)
                continue
            if msg.data.startswith("44"):
                detail = orjson.loads(msg.data[2:])
                await self._ws.close()
                raise SocketIOError(str(detail.get("message")), detail.get("data"))
            raise SocketIOError(f"unexpected packet during connect {msg.data[:80]!r}")
        for data in early:
            self._dispatch_event(data)
        self._reader = asyncio.create_task(self._read(), name="lean-sio-reader")

    def _dispatch_event(self, data: str) -> None:
        body = data[2:]
        name, *args = orjson.loads(body[body.index("[") :])
        self._on_event(name, args[0] if len(args) == 1 else args)

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                data: str = msg.data
                if data == "2":
                    await ws.send_str("3")
                elif data.startswith("42"):
                    self._dispatch_event(data)
                elif data.startswith("43"):
                    body = data[2:]
                    start = body.index("[")
                    future = self._acks.pop(int(body[:start]), None)
                    if future is not None and not future.done():
                        args = orjson.loads(body[start:])
                        future.set_result(args[0] if len(args) == 1 else args)
                elif data.startswith("41"):
                    break
        except (aiohttp.ClientError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.closed.set()
            for future in self._acks.values():
                if not future.done():
                    future.set_exception(SocketIOError("connection closed"))
            self._acks.clear()

    async def emit(self, event: str, data: Any) -> None:
        if self._ws is None:
            raise SocketIOError("not connected")
        await self._ws.send_str("42" + orjson.dumps([event, data]).decode())

    async def call(self, event: str, data: Any, timeout_s: float = 10.0) -> Any:
        """Emit with an acknowledgement and return what the server answered."""
        if self._ws is None:
            raise SocketIOError("not connected")
        ack_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        await self._ws.send_str(f"42{ack_id}" + orjson.dumps([event, data]).decode())
        return await asyncio.wait_for(future, timeout_s)

    async def close(self) -> None:
        """Leave cleanly (Socket.IO disconnect, then WebSocket close)."""
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                await self._ws.send_str("41")
            await self._ws.close()
        await self._stop_reader()

    async def drop(self) -> None:
        """Vanish without a goodbye, as a network drop does."""
        if self._ws is not None:
            conn = self._ws._conn  # aiohttp keeps the TCP connection here; abort() sends no FIN
            if conn is not None:
                if conn.transport is not None:
                    conn.transport.abort()
                conn.close()  # and hand it back to the connector, or it warns when collected
        await self._stop_reader()

    async def _stop_reader(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        self.closed.set()
