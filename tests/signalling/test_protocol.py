"""Strict validation of client event payloads (signalling/protocol.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalling.effects import ErrorReply
from signalling.errors import ErrorCode, VenueError
from signalling.ids import ConnectionId, ParticipantId, SpaceId
from signalling.kinds import BreakoutMode, MediaKind, ReactionKind
from signalling.protocol import (
    CLIENT_EVENTS,
    ORGANISER_EVENTS,
    EndSpace,
    JoinSpace,
    LeaveSpace,
    OpenBreakouts,
    Publish,
    React,
    SetMuted,
    Spotlight,
    describe_events,
    validate,
)
from tests.signalling.support import HALL, Harness, of_type


def code_of(result: object) -> ErrorCode:
    assert isinstance(result, VenueError), result
    return result.code


def test_valid_payloads_become_typed_dataclasses() -> None:
    assert validate("join_space", {"space_id": "hall"}) == JoinSpace(space_id=SpaceId("hall"))
    assert validate("leave_space", None) == LeaveSpace()
    assert validate("leave_space", {}) == LeaveSpace()
    assert validate("publish", {"kind": "screen"}) == Publish(kind=MediaKind.SCREEN)
    assert validate("set_muted", {"kind": "microphone", "muted": False}) == SetMuted(
        kind=MediaKind.MICROPHONE, muted=False
    )
    assert validate("react", {"reaction": "tada"}) == React(reaction=ReactionKind.TADA)
    assert validate("spotlight", {"space_id": "s", "participant_id": None}) == Spotlight(
        space_id=SpaceId("s"), participant_id=None
    )
    assert validate("end_space", {"space_id": "s"}) == EndSpace(space_id=SpaceId("s"), reason="")
    parsed = validate("open_breakouts", {"space_id": "s", "mode": "manual", "groups": [["a", "b"], ["c"]]})
    assert parsed == OpenBreakouts(
        space_id=SpaceId("s"),
        mode=BreakoutMode.MANUAL,
        groups=((ParticipantId("a"), ParticipantId("b")), (ParticipantId("c"),)),
    )


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("teleport", {}, ErrorCode.UNKNOWN_EVENT),
        (42, {}, ErrorCode.UNKNOWN_EVENT),
        (None, {}, ErrorCode.UNKNOWN_EVENT),
        ("join_space", {"space_id": "hall", "extra": 1}, ErrorCode.UNKNOWN_FIELD),
        ("join_space", {1: "hall"}, ErrorCode.UNKNOWN_FIELD),
        ("join_space", {}, ErrorCode.MISSING_FIELD),
        ("join_space", ["hall"], ErrorCode.INVALID_PAYLOAD),
        ("join_space", "hall", ErrorCode.INVALID_PAYLOAD),
        ("join_space", {"space_id": 7}, ErrorCode.INVALID_PAYLOAD),
        ("join_space", {"space_id": ""}, ErrorCode.INVALID_PAYLOAD),
        ("join_space", {"space_id": "has space"}, ErrorCode.INVALID_PAYLOAD),
        ("join_space", {"space_id": "x" * 65}, ErrorCode.INVALID_PAYLOAD),
        ("join_space", {"space_id": "é"}, ErrorCode.INVALID_PAYLOAD),
        ("join_space", {"space_id": None}, ErrorCode.INVALID_PAYLOAD),
        ("join_space", {"space_id": {1, 2}}, ErrorCode.INVALID_PAYLOAD),
        ("join_space", {"space_id": b"hall"}, ErrorCode.INVALID_PAYLOAD),
        ("publish", {"kind": "hologram"}, ErrorCode.INVALID_PAYLOAD),
        ("publish", {"kind": 1}, ErrorCode.INVALID_PAYLOAD),
        ("set_muted", {"kind": "camera", "muted": 1}, ErrorCode.INVALID_PAYLOAD),
        ("set_muted", {"kind": "camera", "muted": "true"}, ErrorCode.INVALID_PAYLOAD),
        ("end_space", {"space_id": "s", "reason": "x" * 201}, ErrorCode.INVALID_PAYLOAD),
        ("end_space", {"space_id": "s", "reason": "bell\x07"}, ErrorCode.INVALID_PAYLOAD),
        ("end_space", {"space_id": "s", "reason": "x" * 10_000}, ErrorCode.PAYLOAD_TOO_LARGE),
        ("broadcast_breakouts", {"space_id": "s", "text": ""}, ErrorCode.INVALID_PAYLOAD),
        (
            "open_breakouts",
            {"space_id": "s", "mode": "groups", "group_size": True},
            ErrorCode.INVALID_PAYLOAD,
        ),
        ("open_breakouts", {"space_id": "s", "mode": "groups", "group_size": 0}, ErrorCode.INVALID_PAYLOAD),
        ("open_breakouts", {"space_id": "s", "mode": "groups", "group_size": 2.0}, ErrorCode.INVALID_PAYLOAD),
        ("open_breakouts", {"space_id": "s", "mode": "manual", "groups": [[]]}, ErrorCode.INVALID_PAYLOAD),
        ("open_breakouts", {"space_id": "s", "mode": "manual", "groups": ["a"]}, ErrorCode.INVALID_PAYLOAD),
        ("open_breakouts", {"space_id": "s", "mode": "manual", "groups": [[1]]}, ErrorCode.INVALID_PAYLOAD),
        ("lock_space", {"space_id": "s", "locked": None}, ErrorCode.INVALID_PAYLOAD),
        ("leave_space", {"a": [[[[[[1]]]]]]}, ErrorCode.INVALID_PAYLOAD),
        ("leave_space", {"k": ["x"] * 5000}, ErrorCode.PAYLOAD_TOO_LARGE),
        ("leave_space", {"k": 10**10_000}, ErrorCode.PAYLOAD_TOO_LARGE),
    ],
)
def test_invalid_payloads_are_refused_with_a_code(name: object, data: object, code: ErrorCode) -> None:
    assert code_of(validate(name, data)) is code


def test_error_messages_never_echo_huge_input() -> None:
    error = validate("x" * 100_000, {})
    assert isinstance(error, VenueError) and len(error.message) < 200


def test_describe_events_lists_every_event_and_field() -> None:
    described = {d.name: d for d in describe_events()}
    assert set(described) == set(CLIENT_EVENTS)
    assert {d.name for d in described.values() if d.organiser_only} == ORGANISER_EVENTS
    assert [(f.name, f.required) for f in described["end_space"].fields] == [
        ("space_id", True),
        ("reason", False),
    ]
    assert "microphone" in described["publish"].fields[0].description
    assert described["promote"].summary.startswith("Audience")


def test_an_invalid_event_through_the_venue_answers_only_that_client() -> None:
    h = Harness()
    h.join("ann")
    before = repr(h.venue.spaces)
    effects = h.raw("ann", "join_space", {"space_id": "hall", "sneaky": True})
    assert effects == [
        ErrorReply(ConnectionId("c-ann"), ErrorCode.UNKNOWN_FIELD, "unknown field 'sneaky'", "join_space")
    ]
    assert repr(h.venue.spaces) == before
    effects = h.raw("ann", "join_space", {"space_id": HALL})
    assert of_type(effects, ErrorReply) == [] and h.where("ann") == HALL


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(st.sampled_from(sorted(CLIENT_EVENTS)), st.text(max_size=20), st.integers()),
    st.one_of(
        json_values,
        st.fixed_dictionaries(
            {},
            optional={
                "space_id": json_values | st.sampled_from(["hall", "s~1"]),
                "participant_id": json_values,
                "kind": st.sampled_from([*MediaKind, "x"]),
                "mode": st.sampled_from([*BreakoutMode, "x"]),
                "groups": json_values,
                "group_size": json_values,
                "reason": json_values,
                "text": json_values,
                "muted": json_values,
                "locked": json_values,
                "reaction": st.sampled_from([*ReactionKind, "x"]),
            },
        ),
    ),
)
def test_validate_never_raises(name: Any, data: Any) -> None:
    result = validate(name, data)
    if not isinstance(result, VenueError):
        assert type(result) is CLIENT_EVENTS[name]
