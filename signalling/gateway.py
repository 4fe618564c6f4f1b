"""The Socket.IO edge: admits sockets with a join token and hands their events to a dispatcher.

It owns the transport concerns and nothing of the venue: who may connect (a join token checked
by an :class:`Admitter`), how often a socket may send (a token bucket per connection), how big a
message may be, how errors are shaped (``{"ok": false, "error": {"code", "message"}}`` in the
acknowledgement, or an ``error`` event when the client asked for none), and how frames are
written (no per-recipient WebSocket compression, see :func:`_disable_websocket_compression`).
What an event means is the :class:`Dispatcher`'s business.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import math
import struct
import time
from collections.abc import Mapping
from typing import Any, Final, Protocol

import orjson
import socketio
from aiohttp import WSCloseCode, web
from prometheus_client import Counter, Gauge

from signalling.ids import ConnectionId
from signalling.members import Member

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES: Final = 64 * 1024
"""Largest Socket.IO message accepted from a client (Engine.IO closes the socket beyond it)."""

CONNECTIONS = Gauge("venuekit_signal_connections", "Socket.IO connections admitted and open")
CONNECTS_REFUSED = Counter(
    "venuekit_signal_connects_refused_total", "Socket.IO connections refused", ["code"]
)
EVENTS = Counter("venuekit_signal_events_total", "Socket.IO events received from clients", ["outcome"])


@dataclasses.dataclass(frozen=True, slots=True)
class GatewayError(Exception):
    """A refusal a client receives as ``{"code", "message"}``; never a stack trace."""

    code: str
    message: str
    details: Mapping[str, Any] | None = None
    """Extra machine-readable fields, such as ``retry_after_ms``."""

    def payload(self) -> dict[str, Any]:
        return {**(self.details or {}), "code": self.code, "message": self.message}


@dataclasses.dataclass(frozen=True, slots=True)
class Admitted:
    """What a verified join token says about the socket's participant."""

    member: Member
    org_id: str
    token_id: str
    expires_at_s: float
    ticket_id: str | None = None
    """The ticket the token was exchanged for (None for organisers): revoking it ends the session."""


@dataclasses.dataclass(slots=True)
class Connection:
    """One admitted socket. Two browser tabs of one participant are two connections."""

    sid: ConnectionId
    admitted: Admitted
    connected_at_ms: int
    bucket: TokenBucket


class Admitter(Protocol):
    async def admit(self, token: str, now_s: float) -> Admitted:
        """Verify ``token``; raise :class:`GatewayError` (``token_expired``...) to refuse."""
        ...


class Dispatcher(Protocol):
    async def connected(self, conn: Connection) -> None: ...

    async def event(self, conn: Connection, name: str, payload: Any) -> Any:
        """Handle one client event; the result is the acknowledgement's ``data``.

        Raise :class:`GatewayError` to answer the client with a structured error.
        """
        ...

    async def disconnected(self, conn: Connection, reason: str) -> None: ...


@dataclasses.dataclass(slots=True)
class TokenBucket:
    """Rate limit: ``burst`` events at once, refilled at ``rate_per_s``. Pure; time is passed in."""

    rate_per_s: float
    burst: float
    tokens: float = -1.0
    updated_ms: int = 0

    def take(self, now_ms: int) -> int:
        """0 when an event may pass now, else the milliseconds until one may."""
        if self.tokens < 0:
            self.tokens, self.updated_ms = self.burst, now_ms
        elapsed_s = max(0, now_ms - self.updated_ms) / 1000
        self.tokens = min(self.burst, self.tokens + elapsed_s * self.rate_per_s)
        self.updated_ms = now_ms
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        return max(1, math.ceil((1 - self.tokens) / self.rate_per_s * 1000))


class PreEncoded:
    """A payload that is already JSON text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class PacketJson:
    """The JSON module python-socketio encodes packets with: orjson, plus :class:`PreEncoded`."""

    @staticmethod
    def dumps(obj: Any, **_kwargs: Any) -> str:
        if type(obj) is list and len(obj) == 2 and isinstance(obj[1], PreEncoded):
            return "[" + orjson.dumps(obj[0]).decode() + "," + obj[1].text + "]"
        try:
            return orjson.dumps(obj).decode()
        except TypeError:  # integers beyond 64 bits and the like: the standard library copes
            return json.dumps(obj, separators=(",", ":"))

    @staticmethod
    def loads(text: str | bytes, **_kwargs: Any) -> Any:
        return json.loads(text)


def _refusal(error: GatewayError) -> socketio.exceptions.ConnectionRefusedError:
    """The client's ``connect_error`` gets ``{message, data: {code, message}}``."""
    return socketio.exceptions.ConnectionRefusedError(error.message, error.payload())


def _now_ms() -> int:
    return int(time.time() * 1000)


SLOW_CONSUMER_BYTES: Final = 2 * 1024 * 1024
"""A socket with more than this still unsent is dropped from broadcasts and disconnected; it
reconnects and replays from its last id instead of growing the server's memory."""
TRANSPORT_HIGH_WATER_BYTES: Final = 4 * 1024 * 1024

SHUTDOWN_POLLING_CLOSE_S: Final = 5.0
"""At shutdown, how long closing the long-polling sockets (and their disconnect handlers) may take."""

SLOW_CONSUMERS = Counter(
    "venuekit_signal_slow_consumers_dropped_total", "Sockets disconnected for not reading fast enough"
)
BROADCAST_FRAMES = Counter(
    "venuekit_signal_broadcast_frames_total", "Pre-encoded frames written straight to WebSockets"
)


def websocket_text_frame(payload: bytes) -> bytes:
    """One final, unmasked, uncompressed text frame (RFC 6455 section 5.2), as a server sends."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 65_536:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


@dataclasses.dataclass(frozen=True, slots=True)
class _Wire:
    ws: web.WebSocketResponse
    transport: asyncio.WriteTransport


def _install_websocket(server: socketio.AsyncServer, wires: dict[str, _Wire]) -> None:
    """Swap Engine.IO's aiohttp WebSocket for one that fits thousands of recipients.

    - It refuses permessage-deflate. Browsers always offer it, and aiohttp would then deflate
      every frame separately for every recipient: a chat batch sent to 5,000 sockets would be
      compressed 5,000 times (shared/notes/chat-fanout.md measured 20x the latency).
    - It records each socket's WebSocket and transport by Engine.IO session id in ``wires``, so
      :meth:`Gateway.broadcast_raw` can write one pre-encoded frame to many sockets without a
      task and a queue hop per recipient.
    - It raises the transport's high-water mark, so a write pauses only for a socket that is
      already far behind (those are dropped first, see ``SLOW_CONSUMER_BYTES``).

    python-engineio has no option for any of this; its ``_async["websocket"]`` class is the seam.
    """
    eio = server.eio
    base = eio._async["websocket"]

    class BroadcastWebSocket(base):  # type: ignore[misc, valid-type]
        async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
            request = environ["aiohttp.request"]
            self._sock = web.WebSocketResponse(max_msg_size=self.server.max_http_buffer_size, compress=False)
            await self._sock.prepare(request)
            self.environ = environ
            eio_sid = getattr(getattr(self.handler, "__self__", None), "sid", None)
            transport = request.transport
            if eio_sid is not None and transport is not None:
                transport.set_write_buffer_limits(high=TRANSPORT_HIGH_WATER_BYTES)
                wires[eio_sid] = _Wire(self._sock, transport)
            try:
                await self.handler(self)
            finally:
                if eio_sid is not None:
                    wires.pop(eio_sid, None)
            return self._sock

    eio._async = {**eio._async, "websocket": BroadcastWebSocket}


class Gateway:
    """Socket.IO server bound to an aiohttp app; one per signalling process."""

    def __init__(
        self,
        admitter: Admitter,
        dispatcher: Dispatcher,
        *,
        events_per_s: float = 20.0,
        events_burst: float = 40.0,
        cors_allowed_origins: list[str] | str | None = None,
    ) -> None:
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            json=PacketJson,
            cors_allowed_origins=cors_allowed_origins if cors_allowed_origins is not None else [],
            max_http_buffer_size=MAX_MESSAGE_BYTES,
            http_compression=False,
            ping_interval=25,
            ping_timeout=20,
            transports=["websocket", "polling"],
        )
        self._wires: dict[str, _Wire] = {}
        _install_websocket(self.sio, self._wires)
        self._admitter = admitter
        self._dispatcher = dispatcher
        self._rate = (events_per_s, events_burst)
        self.connections: dict[ConnectionId, Connection] = {}
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("*", self._on_event)

    def attach(self, app: web.Application) -> None:
        self.sio.attach(app, socketio_path="socket.io")
        app.on_shutdown.append(self._close_sockets)

    async def _close_sockets(self, _app: web.Application) -> None:
        """The server is stopping: close every socket, as "going away" (clients reconnect).

        aiohttp waits for running handlers after ``on_shutdown``, up to its shutdown timeout, and
        a WebSocket's handler runs as long as its socket is open: with anyone connected, the
        application's cleanup (the venue runtime, the media node and its peer connections)
        started only after that timeout, and the process was stopped before it finished.
        Engine.IO's close packet alone would not do: browsers ignore it. Each closed WebSocket's
        handler then ends and reports the disconnect (aiohttp waits for those handlers, bounded).
        """
        wires = dict(self._wires)
        await asyncio.gather(
            *(w.ws.close(code=WSCloseCode.GOING_AWAY) for w in wires.values()), return_exceptions=True
        )
        # long-polling sockets have no handler of their own to end; a disconnect handler that
        # hangs must not hold the stop up
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SHUTDOWN_POLLING_CLOSE_S):
                for sid in [s for s in list(self.sio.eio.sockets) if s not in wires]:
                    await self.sio.eio.disconnect(sid)

    async def _on_connect(self, sid: str, _environ: dict[str, Any], auth: Any) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        if not isinstance(token, str) or not token or len(token) > 8192:
            CONNECTS_REFUSED.labels("token_missing").inc()
            raise _refusal(GatewayError("token_missing", "connect with auth {token: <join token>}"))
        try:
            admitted = await self._admitter.admit(token, time.time())
        except GatewayError as exc:
            CONNECTS_REFUSED.labels(exc.code).inc()
            raise _refusal(exc) from None
        conn = Connection(
            sid=ConnectionId(sid),
            admitted=admitted,
            connected_at_ms=_now_ms(),
            bucket=TokenBucket(*self._rate),
        )
        self.connections[conn.sid] = conn
        CONNECTIONS.inc()
        try:
            await self._dispatcher.connected(conn)
        except GatewayError as exc:
            self.connections.pop(conn.sid, None)
            CONNECTIONS.dec()
            CONNECTS_REFUSED.labels(exc.code).inc()
            raise _refusal(exc) from None

    async def _on_disconnect(self, sid: str, reason: Any = None) -> None:
        conn = self.connections.pop(ConnectionId(sid), None)
        if conn is None:
            return
        CONNECTIONS.dec()
        await self._dispatcher.disconnected(conn, str(reason or "disconnected"))

    async def _on_event(self, name: str, sid: str, *args: Any) -> dict[str, Any] | None:
        conn = self.connections.get(ConnectionId(sid))
        if conn is None:  # pragma: no cover - Socket.IO delivers events only after connect
            return None
        payload = args[0] if len(args) == 1 else (list(args) if args else None)
        try:
            wait_ms = conn.bucket.take(_now_ms())
            if wait_ms:
                raise GatewayError("rate_limited", f"too many events; retry in {wait_ms} ms")
            data = await self._dispatcher.event(conn, name, payload)
        except GatewayError as exc:
            EVENTS.labels(exc.code).inc()
            error = {"ok": False, "error": exc.payload() | {"event": name}}
            await self.sio.emit("error", error["error"], to=sid)
            return error
        except Exception:
            EVENTS.labels("internal_error").inc()
            log.exception("event %r from %s failed", name, sid)
            failure = {"code": "internal_error", "message": "the server could not handle this event"}
            await self.sio.emit("error", failure | {"event": name}, to=sid)
            return {"ok": False, "error": failure}
        EVENTS.labels("ok").inc()
        return {"ok": True, "data": data}

    async def emit(self, event: str, data: Any, *, to: str) -> None:
        """Send to one socket id or one room, across every signalling instance."""
        await self.sio.emit(event, data, to=to)

    async def broadcast_raw(self, event: str, raw_json: str, *, room: str) -> int:
        """Send ``[event, <raw_json>]`` to every socket in ``room`` on this instance.

        The WebSocket frame (header and UTF-8 payload) is built once and written straight to
        each socket's transport: no per-recipient task, coroutine, encode or copy. It may
        overtake events still queued in Engine.IO for the same socket, so use it only for a
        stream whose order matters within itself (chat batches). Sockets on another transport
        (long-polling) get an ordinary emit. Returns the sockets reached.
        """
        frame = websocket_text_frame(('42["' + event + '",' + raw_json + "]").encode())
        reached = 0
        slow: list[str] = []
        for sid, eio_sid in list(self.sio.manager.get_participants("/", room)):
            wire = self._wires.get(eio_sid)
            if wire is None or wire.ws.closed:
                await self.sio.emit(event, PreEncoded(raw_json), to=sid)
                reached += 1
                continue
            if wire.transport.get_write_buffer_size() > SLOW_CONSUMER_BYTES:
                slow.append(sid)
                continue
            if wire.transport.is_closing():
                continue
            wire.transport.write(frame)  # server frames are unmasked: the same bytes for everyone
            reached += 1
        BROADCAST_FRAMES.inc(reached)
        for sid in slow:
            SLOW_CONSUMERS.inc()
            log.warning("socket %s is not reading; disconnecting it", sid)
            await self.sio.disconnect(sid)
        return reached

    async def enter_room(self, sid: ConnectionId, room: str) -> None:
        await self.sio.enter_room(sid, room)

    async def leave_room(self, sid: ConnectionId, room: str) -> None:
        await self.sio.leave_room(sid, room)

    async def disconnect(self, sid: ConnectionId) -> None:
        await self.sio.disconnect(sid)
