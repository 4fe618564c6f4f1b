"""Client-facing effects as Socket.IO event names and JSON payloads."""

from __future__ import annotations

import json
import typing

import pytest

from signalling import effects as fx
from signalling.effects import (
    ErrorReply,
    MediaSubscribe,
    ParticipantRemoved,
    PresenceEntry,
    PresenceUpdated,
    ReactionBurst,
)
from signalling.errors import ErrorCode
from signalling.ids import ConnectionId, ParticipantId, SpaceId
from signalling.kinds import MediaKind, ReactionKind, Role, StageRole
from signalling.protocol import JoinSpace
from signalling.wire import SERVER_EVENTS, client_message, to_json
from tests.signalling.support import HALL, Harness


def test_presence_update_becomes_plain_json() -> None:
    entry = PresenceEntry(
        participant_id=ParticipantId("ann"),
        display_name="Ann",
        role=Role.SPEAKER,
        stage_role=StageRole.LIVE,
        published=frozenset({MediaKind.SCREEN, MediaKind.CAMERA}),
        muted=frozenset(),
        hand_raised=False,
        connected=True,
    )
    assert client_message(PresenceUpdated(SpaceId("s"), entry)) == (
        "presence_updated",
        {
            "space_id": "s",
            "entry": {
                "participant_id": "ann",
                "display_name": "Ann",
                "role": "speaker",
                "stage_role": "live",
                "published": ["camera", "screen"],
                "muted": [],
                "hand_raised": False,
                "connected": True,
            },
        },
    )


def test_addressing_stays_with_the_runtime() -> None:
    name, payload = client_message(
        ErrorReply(ConnectionId("c1"), ErrorCode.FORBIDDEN, "no", "end_event")
    ) or ("", {})
    assert name == "error" and payload == {"code": "forbidden", "message": "no", "event_name": "end_event"}
    removed = client_message(ParticipantRemoved(ParticipantId("p"), (ConnectionId("c1"),), "spam"))
    assert removed == ("removed", {"participant_id": "p", "reason": "spam"})


def test_runtime_only_effects_have_no_client_message() -> None:
    assert client_message(MediaSubscribe(ParticipantId("p"), SpaceId("s"))) is None


def test_reaction_counts_are_pairs() -> None:
    burst = ReactionBurst(SpaceId("s"), ((ReactionKind.CLAP, 3),), 1000)
    assert to_json(burst) == {"space_id": "s", "counts": [["clap", 3]], "window_end_ms": 1000}


def test_unknown_values_are_refused() -> None:
    with pytest.raises(TypeError):
        to_json(object())


def test_every_effect_of_a_session_serialises() -> None:
    h = Harness()
    h.join("ann")
    effects = h.send("ann", JoinSpace(space_id=HALL))
    names = []
    for effect in effects:
        message = client_message(effect)
        json.dumps(to_json(effect))
        if message is not None:
            names.append(message[0])
    assert names == ["space_count", "space_count", "presence_joined", "space_snapshot"]


def test_server_event_names_are_unique_and_cover_client_effects() -> None:
    assert len(set(SERVER_EVENTS.values())) == len(SERVER_EVENTS)
    runtime_only = {
        fx.MediaSubscribe,
        fx.MediaUnsubscribe,
        fx.MediaAllowPublish,
        fx.MediaUnpublish,
        fx.MediaSetMuted,
        fx.MediaClosePeer,
        fx.Analytics,
    }
    every_effect = set(typing.get_args(fx.Effect))
    assert set(SERVER_EVENTS) == every_effect - runtime_only
