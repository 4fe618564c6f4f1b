"""Chat over the signalling socket: ``chat_*`` events to the chat service, batches back out.

Each chat channel a socket joins is also a Socket.IO room on this instance. The chat fan-out
engine hands over one encoded batch per channel and window; it is written to the room with one
``emit``, so python-socketio builds the packet once for all recipients, and the batch's JSON is
spliced into the packet as it is (:class:`PreEncoded`), never parsed or serialised again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from chat.channels import Channel, parse_channel
from chat.errors import ChatError
from chat.grants import Grants
from chat.grants import Role as ChatRole
from chat.ids import EventId as ChatEventId
from chat.ids import ParticipantId as ChatParticipantId
from chat.ids import RecipientId, SpaceId, TeamId
from chat.service import ChatService
from signalling.gateway import Connection, Gateway, GatewayError

BATCH_EVENT: Final = "chat_batch"
CHAT_PREFIX: Final = "chat_"


def chat_room(channel: Channel) -> str:
    return f"c:{channel.event_id}:{channel.name}"


def grants_of(conn: Connection) -> Grants:
    member = conn.admitted.member
    return Grants(
        participant_id=ChatParticipantId(member.participant_id),
        event_id=ChatEventId(member.event_id),
        role=ChatRole(member.role.value),
        display_name=member.display_name,
        teams=frozenset(TeamId(t) for t in member.teams),
        spaces=frozenset(SpaceId(s) for s in member.spaces),
    )


def _wire(error: ChatError) -> GatewayError:
    details = {"retry_after_ms": error.retry_after_ms} if error.retry_after_ms is not None else {}
    return GatewayError(error.code, error.message, details)


class ChatBridge:
    """The chat part of the signalling dispatcher, and the chat fan-out's batch sink."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._service: ChatService | None = None
        self._handlers: dict[str, Callable[[Connection, Any], Awaitable[Any]]] = {
            "chat_send": self._send,
            "chat_join": self._join,
            "chat_leave": self._leave,
            "chat_history": self._history,
            "chat_replay": self._replay,
            "chat_delete": self._delete,
            "chat_lock": self._lock,
            "chat_mute": self._mute,
            "chat_unmute": self._unmute,
        }

    @property
    def event_names(self) -> tuple[str, ...]:
        return tuple(self._handlers)

    def bind(self, service: ChatService) -> None:
        """The service needs this bridge (as its fan-out's sink) before it exists: bind after."""
        self._service = service

    @property
    def service(self) -> ChatService:
        if self._service is None:
            raise GatewayError("chat_unavailable", "chat is not running")
        return self._service

    # --- BatchSink --------------------------------------------------------------------------------

    async def deliver(self, channel: Channel, batch: bytes, recipients: frozenset[RecipientId]) -> None:
        await self._gateway.broadcast_raw(BATCH_EVENT, batch.decode(), room=chat_room(channel))

    # --- events -----------------------------------------------------------------------------------

    async def event(self, conn: Connection, name: str, payload: Any) -> Any:
        handler = self._handlers.get(name)
        if handler is None:
            raise GatewayError("unknown_event", f"unknown event {name[:64]!r}")
        try:
            return await handler(conn, payload)
        except ChatError as error:
            raise _wire(error) from None

    async def disconnected(self, conn: Connection) -> None:
        if self._service is not None:
            self._service.disconnected(RecipientId(conn.sid))

    async def _send(self, conn: Connection, payload: Any) -> Any:
        return (await self.service.send(grants_of(conn), payload)).to_wire()

    async def _join(self, conn: Connection, payload: Any) -> Any:
        async def enter(channel: Channel) -> None:
            # after the permission check and the subscription, before the read: no batch can
            # slip between the replay and the room
            await self._gateway.enter_room(conn.sid, chat_room(channel))

        result = await self.service.join(grants_of(conn), RecipientId(conn.sid), payload, on_subscribed=enter)
        return result.to_wire()

    async def _leave(self, conn: Connection, payload: Any) -> Any:
        self.service.leave(grants_of(conn), RecipientId(conn.sid), payload)
        raw = payload.get("channel") if isinstance(payload, dict) else None
        await self._gateway.leave_room(conn.sid, chat_room(_channel_of(conn, raw)))
        return None

    async def _history(self, conn: Connection, payload: Any) -> Any:
        return (await self.service.history(grants_of(conn), payload)).to_wire()

    async def _replay(self, conn: Connection, payload: Any) -> Any:
        return (await self.service.replay(grants_of(conn), payload)).to_wire()

    async def _delete(self, conn: Connection, payload: Any) -> Any:
        return (await self.service.delete(grants_of(conn), payload)).to_wire()

    async def _lock(self, conn: Connection, payload: Any) -> Any:
        return (await self.service.lock(grants_of(conn), payload)).to_wire()

    async def _mute(self, conn: Connection, payload: Any) -> Any:
        return {"until_ms": await self.service.mute(grants_of(conn), payload)}

    async def _unmute(self, conn: Connection, payload: Any) -> Any:
        await self.service.unmute(grants_of(conn), payload)
        return None


def _channel_of(conn: Connection, raw: Any) -> Channel:
    return parse_channel(ChatEventId(conn.admitted.member.event_id), raw)
