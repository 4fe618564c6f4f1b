"""Connections per participant: two tabs are one presence, a dropped socket has a grace period."""

from __future__ import annotations

from signalling.effects import (
    Analytics,
    AnalyticsKind,
    MediaClosePeer,
    MediaSubscribe,
    MediaUnpublish,
    PresenceJoined,
    PresenceLeft,
    PresenceUpdated,
    SpaceCountChanged,
    SpaceSnapshot,
    Welcome,
)
from signalling.errors import ErrorCode
from signalling.ids import ParticipantId
from signalling.kinds import BreakoutMode, LeaveReason, MediaKind, Role
from signalling.protocol import CloseBreakouts, JoinSpace, OpenBreakouts, Publish
from tests.signalling.support import GRACE_MS, HALL, Harness, error_codes, member, of_type

ANN = ParticipantId("ann")


def in_hall(h: Harness) -> None:
    h.join("ann")
    h.send("ann", JoinSpace(space_id=HALL))


def test_second_tab_shares_one_presence_and_one_count() -> None:
    h = Harness()
    in_hall(h)
    effects = h.connect(member("ann"), connection="tab-2")
    [welcome] = of_type(effects, Welcome)
    assert (welcome.connection_id, welcome.space_id, welcome.resumed) == ("tab-2", HALL, True)
    assert of_type(effects, PresenceJoined) == [] and of_type(effects, SpaceCountChanged) == []
    assert of_type(effects, SpaceSnapshot)[0].space_id == HALL
    assert MediaSubscribe(ANN, HALL) in effects
    assert h.venue.spaces[HALL].count == 1
    assert h.venue.connections_of(ANN) == ("c-ann", "tab-2")
    assert error_codes(h.send("ann", Publish(kind=MediaKind.CAMERA), connection="tab-2")) == []


def test_closing_one_of_two_tabs_changes_nothing() -> None:
    h = Harness()
    in_hall(h)
    h.connect(member("ann"), connection="tab-2")
    assert h.disconnect("tab-2") == []
    assert h.venue.is_online(ANN)


def test_reconnect_within_grace_resumes_the_same_presence() -> None:
    h = Harness()
    in_hall(h)
    h.send("ann", Publish(kind=MediaKind.CAMERA))
    effects = h.disconnect("c-ann")
    assert MediaUnpublish(ANN, HALL, MediaKind.CAMERA) in effects
    assert MediaClosePeer(ANN) in effects
    assert of_type(effects, PresenceUpdated)[0].entry.connected is False
    assert [a.kind for a in of_type(effects, Analytics)] == [AnalyticsKind.DISCONNECT]
    assert of_type(h.tick(GRACE_MS - 1), PresenceLeft) == []
    assert h.where("ann") == HALL and h.venue.spaces[HALL].count == 1

    effects = h.connect(member("ann"), connection="c-ann-new")
    assert of_type(effects, Welcome)[0].resumed
    assert of_type(effects, PresenceUpdated)[0].entry.connected is True
    assert of_type(effects, PresenceJoined) == []
    assert [a.kind for a in of_type(effects, Analytics)] == [AnalyticsKind.RECONNECT]
    assert of_type(h.tick(GRACE_MS * 2), PresenceLeft) == []
    assert h.venue.spaces[HALL].count == 1


def test_the_leave_becomes_final_when_grace_expires() -> None:
    h = Harness()
    in_hall(h)
    h.disconnect("c-ann")
    effects = h.tick(GRACE_MS)
    assert PresenceLeft(HALL, ANN, LeaveReason.DISCONNECTED) in effects
    assert SpaceCountChanged(HALL, 0) in effects
    assert AnalyticsKind.DEPART in [a.kind for a in of_type(effects, Analytics)]
    assert ANN not in h.venue.members
    effects = h.connect(member("ann"), connection="c-ann-late")
    assert of_type(effects, Welcome)[0].resumed is False
    assert h.where("ann") == "lobby"


def test_disconnect_of_an_unknown_socket_is_ignored() -> None:
    h = Harness()
    assert h.disconnect("never-seen") == []


def test_time_never_runs_backwards_for_the_grace_period() -> None:
    h = Harness()
    in_hall(h)
    h.now_ms = 50_000
    h.disconnect("c-ann")
    h.now_ms = 0  # a late or skewed clock input is clamped to the latest time seen
    assert of_type(h.tick(GRACE_MS - 1), PresenceLeft) == []
    h.now_ms = 50_000
    assert of_type(h.tick(GRACE_MS), PresenceLeft) == [PresenceLeft(HALL, ANN, LeaveReason.DISCONNECTED)]


def test_an_offline_participant_in_a_breakout_is_brought_back_too() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    in_hall(h)
    h.send("org", OpenBreakouts(space_id=HALL, mode=BreakoutMode.GROUPS, group_size=3))
    assert h.where("ann") == "hall~1"
    h.disconnect("c-ann")
    h.send("org", CloseBreakouts(space_id=HALL))
    assert h.where("ann") == HALL
    effects = h.connect(member("ann"), connection="c-ann-back")
    assert of_type(effects, SpaceSnapshot)[0].space_id == HALL


def test_raw_events_from_unknown_connections_are_refused_after_validation() -> None:
    h = Harness()
    assert error_codes(h.raw("ghost", "join_space", {"space_id": "hall"})) == [ErrorCode.NOT_CONNECTED]
    assert error_codes(h.raw("ghost", "join_space", {"space_id": 5})) == [ErrorCode.INVALID_PAYLOAD]
