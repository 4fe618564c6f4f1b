"""Redis key layout of chat. Every key of one event shares the hash tag ``{<event id>}``.

So every multi-key operation (append with its moderation state, a tail reading many channels of
an event) stays in one Redis Cluster slot.

- ``vk:chat:{E}:s:<channel>``: the channel's stream (entry id = message id)
- ``vk:chat:{E}:mod:<channel>``: hash: ``locked`` = 1, ``mute:<participant>`` = until (ms, 0 = no end)
- ``vk:chat:{E}:del:<channel>``: set of deleted message ids (so a replay from one stays valid)
- ``vk:chat:{E}:retention``: hash: ``max_len``, ``max_age_ms`` (0 = unlimited)
- ``vk:chat:{E}:last_id``: the event's last message id; every channel of the event draws its
  ids from this one sequence, so a message id is unique in the event (never expires)
- ``vk:chat:{E}:sent:<channel>:<participant>:<client id>``: the id a client's send got, for
  idempotent retries (expires after 10 minutes)
- ``vk:chat:{E}:wake:<instance>``: a fan-out instance's wake-up stream
"""

from __future__ import annotations

from chat.channels import Channel
from chat.ids import EventId, InstanceId, ParticipantId


def _prefix(event_id: EventId) -> str:
    return f"vk:chat:{{{event_id}}}"


def stream_key(channel: Channel) -> str:
    return f"{_prefix(channel.event_id)}:s:{channel.name}"


def moderation_key(channel: Channel) -> str:
    return f"{_prefix(channel.event_id)}:mod:{channel.name}"


def deleted_key(channel: Channel) -> str:
    return f"{_prefix(channel.event_id)}:del:{channel.name}"


def sent_marker_key(channel: Channel, participant: ParticipantId, client_id: str) -> str:
    return f"{_prefix(channel.event_id)}:sent:{channel.name}:{participant}:{client_id}"


def retention_key(event_id: EventId) -> str:
    return f"{_prefix(event_id)}:retention"


def sequence_key(event_id: EventId) -> str:
    return f"{_prefix(event_id)}:last_id"


def wake_key(event_id: EventId, instance_id: InstanceId) -> str:
    return f"{_prefix(event_id)}:wake:{instance_id}"
