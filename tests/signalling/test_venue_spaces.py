"""Joining the event, the lobby, entering and leaving spaces, capacity, team rooms, presence effects."""

from __future__ import annotations

import json

import pytest

from signalling.effects import (
    Analytics,
    AnalyticsKind,
    MediaSubscribe,
    MediaUnsubscribe,
    PresenceJoined,
    PresenceLeft,
    SpaceCountChanged,
    SpaceSnapshot,
    Welcome,
)
from signalling.errors import ErrorCode
from signalling.ids import LOBBY, ParticipantId, SpaceId
from signalling.kinds import LeaveReason, Role, SpaceKind, StageRole
from signalling.protocol import JoinSpace, LeaveSpace, LockSpace
from signalling.spaces import SpaceConfig
from signalling.venue import Venue
from signalling.wire import to_json
from tests.signalling.support import (
    EVENT,
    HALL,
    OTHER_EVENT,
    SMALL,
    STAGE,
    TEAM_A,
    TEAM_A_ROOM,
    TEAM_B_ROOM,
    Harness,
    error_codes,
    member,
    of_type,
)


def test_connect_puts_the_participant_in_the_lobby_and_counts_them() -> None:
    h = Harness()
    effects = h.connect(member("ann"))
    [welcome] = of_type(effects, Welcome)
    assert (welcome.connection_id, welcome.participant_id, welcome.space_id) == ("c-ann", "ann", LOBBY)
    assert not welcome.resumed
    assert SpaceCountChanged(LOBBY, 1) in effects
    snapshot = of_type(effects, SpaceSnapshot)[0]
    assert snapshot.space_id == LOBBY and snapshot.occupants == () and snapshot.may_publish == frozenset()
    assert [a.kind for a in of_type(effects, Analytics)] == [AnalyticsKind.ARRIVE]
    assert h.where("ann") == LOBBY


def test_the_venue_map_lists_every_space_with_live_counts() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    h.join("ann")
    h.send("ann", JoinSpace(space_id=HALL))
    h.send("org", LockSpace(space_id=SMALL, locked=True))
    by_id = {s.space_id: s for s in h.venue.venue_map()}
    assert list(by_id) == [LOBBY, STAGE, HALL, SMALL, TEAM_A_ROOM, TEAM_B_ROOM]
    assert by_id[HALL].count == 1 and by_id[HALL].capacity == 20 and by_id[HALL].kind is SpaceKind.ROOM
    assert by_id[LOBBY].count == 1
    assert by_id[SMALL].locked and not by_id[HALL].locked
    assert by_id[TEAM_A_ROOM].team_id == TEAM_A
    assert json.loads(json.dumps(to_json(by_id[HALL])))["kind"] == "room"


def test_a_token_of_another_event_is_refused_and_changes_nothing() -> None:
    h = Harness()
    effects = h.connect(member("mallory", Role.ORGANISER, event=OTHER_EVENT))
    assert error_codes(effects) == [ErrorCode.WRONG_EVENT]
    assert len(effects) == 1
    assert h.venue.members == {}


def test_join_space_moves_from_lobby_and_emits_presence_media_and_counts() -> None:
    h = Harness()
    h.join("ann")
    h.join("bob")
    h.send("bob", JoinSpace(space_id=HALL))
    effects = h.send("ann", JoinSpace(space_id=HALL))
    assert h.where("ann") == HALL
    assert SpaceCountChanged(LOBBY, 0) in effects
    assert SpaceCountChanged(HALL, 2) in effects
    joined = of_type(effects, PresenceJoined)
    assert [j.entry.participant_id for j in joined] == ["ann"]
    assert MediaSubscribe(ParticipantId("ann"), HALL) in effects
    snapshot = of_type(effects, SpaceSnapshot)[0]
    # the client restarts its peer connections when it learns where it is: the node's offers
    # must come after that (found as a browser that never got the others' video)
    assert effects.index(snapshot) < effects.index(MediaSubscribe(ParticipantId("ann"), HALL))
    assert [e.participant_id for e in snapshot.occupants] == ["bob", "ann"]
    assert snapshot.kind is SpaceKind.ROOM
    assert any(
        a.kind is AnalyticsKind.JOIN and a.participant_id == "ann" for a in of_type(effects, Analytics)
    )


def test_moving_between_spaces_leaves_the_first_one() -> None:
    h = Harness()
    h.join("ann")
    h.send("ann", JoinSpace(space_id=HALL))
    effects = h.send("ann", JoinSpace(space_id=STAGE))
    assert PresenceLeft(HALL, ParticipantId("ann"), LeaveReason.LEFT) in effects
    assert MediaUnsubscribe(ParticipantId("ann"), HALL) in effects
    assert SpaceCountChanged(HALL, 0) in effects
    assert SpaceCountChanged(STAGE, 1) in effects
    assert h.venue.spaces[HALL].count == 0


def test_leave_space_returns_to_the_lobby() -> None:
    h = Harness()
    h.join("ann")
    assert error_codes(h.send("ann", LeaveSpace())) == [ErrorCode.NOT_IN_SPACE]
    h.send("ann", JoinSpace(space_id=HALL))
    effects = h.send("ann", LeaveSpace())
    assert h.where("ann") == LOBBY
    assert SpaceCountChanged(LOBBY, 1) in effects


@pytest.mark.parametrize(
    ("space", "code"),
    [(SpaceId("nowhere"), ErrorCode.UNKNOWN_SPACE), (LOBBY, ErrorCode.ALREADY_IN_SPACE)],
)
def test_join_refusals_leave_state_unchanged(space: SpaceId, code: ErrorCode) -> None:
    h = Harness()
    h.join("ann")
    effects = h.send("ann", JoinSpace(space_id=space))
    assert error_codes(effects) == [code] and len(effects) == 1
    assert h.where("ann") == LOBBY


def test_joining_the_space_you_are_in_is_refused() -> None:
    h = Harness()
    h.join("ann")
    h.send("ann", JoinSpace(space_id=HALL))
    assert error_codes(h.send("ann", JoinSpace(space_id=HALL))) == [ErrorCode.ALREADY_IN_SPACE]


def test_capacity_is_never_exceeded() -> None:
    h = Harness()
    for pid in ("ann", "bob", "cat"):
        h.join(pid)
    assert error_codes(h.send("ann", JoinSpace(space_id=SMALL))) == []
    assert error_codes(h.send("bob", JoinSpace(space_id=SMALL))) == []
    effects = h.send("cat", JoinSpace(space_id=SMALL))
    assert error_codes(effects) == [ErrorCode.SPACE_FULL]
    assert h.venue.spaces[SMALL].count == 2
    h.send("ann", LeaveSpace())
    assert error_codes(h.send("cat", JoinSpace(space_id=SMALL))) == []


def test_organisers_also_respect_capacity() -> None:
    h = Harness()
    h.join("ann")
    h.join("bob")
    h.join("org", Role.ORGANISER)
    h.send("ann", JoinSpace(space_id=SMALL))
    h.send("bob", JoinSpace(space_id=SMALL))
    assert error_codes(h.send("org", JoinSpace(space_id=SMALL))) == [ErrorCode.SPACE_FULL]


def test_team_rooms_admit_only_their_team_and_organisers() -> None:
    h = Harness()
    h.join("ann", teams=[TEAM_A])
    h.join("bob")
    h.join("org", Role.ORGANISER)
    h.join("spk", Role.SPEAKER)
    assert error_codes(h.send("ann", JoinSpace(space_id=TEAM_A_ROOM))) == []
    assert error_codes(h.send("ann", JoinSpace(space_id=TEAM_B_ROOM))) == [ErrorCode.NOT_TEAM_MEMBER]
    assert error_codes(h.send("bob", JoinSpace(space_id=TEAM_A_ROOM))) == [ErrorCode.NOT_TEAM_MEMBER]
    assert error_codes(h.send("spk", JoinSpace(space_id=TEAM_A_ROOM))) == [ErrorCode.NOT_TEAM_MEMBER]
    assert error_codes(h.send("org", JoinSpace(space_id=TEAM_A_ROOM))) == []
    assert set(h.venue.spaces[TEAM_A_ROOM].occupants) == {"ann", "org"}


def test_the_spaces_claim_limits_which_spaces_may_be_entered() -> None:
    h = Harness()
    h.join("ann", spaces=[HALL])
    assert error_codes(h.send("ann", JoinSpace(space_id=STAGE))) == [ErrorCode.SPACE_NOT_ALLOWED]
    assert error_codes(h.send("ann", JoinSpace(space_id=HALL))) == []
    assert error_codes(h.send("ann", JoinSpace(space_id=LOBBY))) == []


def test_stage_entry_roles_depend_on_the_token_role() -> None:
    h = Harness()
    h.join("ann")
    h.join("spk", Role.SPEAKER)
    h.join("org", Role.ORGANISER)
    for pid in ("ann", "spk", "org"):
        h.send(pid, JoinSpace(space_id=STAGE))
    roles = {pid: occ.stage_role for pid, occ in h.venue.spaces[STAGE].occupants.items()}
    assert roles == {"ann": StageRole.AUDIENCE, "spk": StageRole.BACKSTAGE, "org": StageRole.BACKSTAGE}


def test_events_from_unknown_connections_are_refused() -> None:
    h = Harness()
    effects = h.send("ghost", JoinSpace(space_id=HALL))
    assert error_codes(effects) == [ErrorCode.NOT_CONNECTED]


def test_a_connection_cannot_join_twice() -> None:
    h = Harness()
    h.join("ann")
    assert error_codes(h.connect(member("bob"), connection="c-ann")) == [ErrorCode.ALREADY_CONNECTED]
    assert "bob" not in h.venue.members


def test_invalid_venue_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Venue(EVENT, [SpaceConfig(HALL, SpaceKind.ROOM, 3), SpaceConfig(HALL, SpaceKind.ROOM, 3)])
    with pytest.raises(ValueError, match="team_id"):
        SpaceConfig(SpaceId("t"), SpaceKind.TEAM_ROOM, 3)
    with pytest.raises(ValueError, match="capacity"):
        SpaceConfig(SpaceId("r"), SpaceKind.ROOM, 0)
    with pytest.raises(ValueError, match="may not contain"):
        SpaceConfig(SpaceId("a~1"), SpaceKind.ROOM, 3)
    with pytest.raises(ValueError, match="built in"):
        Venue(EVENT, [SpaceConfig(LOBBY, SpaceKind.LOBBY, None)])
    with pytest.raises(ValueError, match="team_id"):
        SpaceConfig(SpaceId("r"), SpaceKind.ROOM, 3, team_id=TEAM_A)
