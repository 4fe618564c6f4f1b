"""Chat items as stored in a stream entry and as sent on the wire, and the one batch encoder.

A stream holds three kinds of entries: messages (``k=m``), deletion tombstones (``k=d``: the
message ``x`` was deleted by ``b``) and lock changes (``k=l``: ``v`` is 1 when locked). The
tombstones ride the stream so that live subscribers and replaying clients learn of deletions in
order with the messages. Wire items are plain dicts with a ``type``; a batch is encoded once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import orjson

from chat.grants import Role
from chat.ids import MessageId, ParticipantId
from chat.validation import id_ms

KIND_FIELD: Final = b"k"
MESSAGE_KIND: Final = "m"
DELETED_KIND: Final = "d"
LOCK_KIND: Final = "l"


@dataclass(frozen=True, slots=True)
class ChatMessage:
    id: MessageId
    sender_id: ParticipantId
    sender_name: str
    sender_role: Role
    text: str

    @property
    def ts_ms(self) -> int:
        return id_ms(self.id)

    def to_wire(self) -> dict[str, object]:
        return {
            "type": "message",
            "id": self.id,
            "ts_ms": self.ts_ms,
            "sender": {"id": self.sender_id, "name": self.sender_name, "role": self.sender_role.value},
            "text": self.text,
        }


@dataclass(frozen=True, slots=True)
class MessageDeleted:
    id: MessageId
    target_id: MessageId
    by: ParticipantId

    def to_wire(self) -> dict[str, object]:
        return {"type": "deleted", "id": self.id, "target_id": self.target_id, "by": self.by}


@dataclass(frozen=True, slots=True)
class LockChanged:
    id: MessageId
    locked: bool
    by: ParticipantId

    def to_wire(self) -> dict[str, object]:
        return {"type": "locked" if self.locked else "unlocked", "id": self.id, "by": self.by}


ChatItem = ChatMessage | MessageDeleted | LockChanged


def _text(fields: Mapping[bytes, bytes], name: bytes) -> str:
    return fields[name].decode("utf-8")


def item_from_entry(entry_id: bytes | str, fields: Mapping[bytes, bytes]) -> ChatItem | None:
    """The item a stream entry holds; ``None`` for an entry this version does not understand."""
    message_id = MessageId(entry_id.decode() if isinstance(entry_id, bytes) else entry_id)
    kind = fields.get(KIND_FIELD, b"").decode()
    try:
        if kind == MESSAGE_KIND:
            return ChatMessage(
                id=message_id,
                sender_id=ParticipantId(_text(fields, b"s")),
                sender_name=_text(fields, b"n"),
                sender_role=Role(_text(fields, b"r")),
                text=_text(fields, b"t"),
            )
        if kind == DELETED_KIND:
            target = MessageId(_text(fields, b"x"))
            return MessageDeleted(message_id, target, ParticipantId(_text(fields, b"b")))
        if kind == LOCK_KIND:
            return LockChanged(message_id, fields[b"v"] == b"1", ParticipantId(_text(fields, b"b")))
    except (KeyError, ValueError, UnicodeDecodeError):
        return None
    return None


def encode_batch(channel_name: str, items: Sequence[ChatItem]) -> bytes:
    """One ``batch`` payload for every recipient of the channel: encoded exactly once."""
    return orjson.dumps({"channel": channel_name, "items": [item.to_wire() for item in items]})
