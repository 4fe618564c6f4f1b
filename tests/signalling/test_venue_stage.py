"""Stage roles and organiser controls: promote, demote, go live, mute, spotlight, lock, remove, end."""

from __future__ import annotations

import pytest

from signalling.effects import (
    Analytics,
    AnalyticsKind,
    EventEnded,
    MediaClosePeer,
    MediaSetMuted,
    MediaUnpublish,
    ParticipantRemoved,
    PermissionsChanged,
    PresenceLeft,
    PresenceUpdated,
    SpaceEnded,
    SpaceLockChanged,
    SpotlightChanged,
)
from signalling.errors import ErrorCode
from signalling.ids import LOBBY, ConnectionId, ParticipantId, SpaceId
from signalling.kinds import BreakoutMode, LeaveReason, MediaKind, Role, StageRole
from signalling.protocol import (
    BringLive,
    BroadcastToBreakouts,
    ClientPayload,
    CloseBreakouts,
    Demote,
    EndEvent,
    EndSpace,
    JoinSpace,
    LockSpace,
    LowerParticipantHand,
    MuteParticipant,
    OpenBreakouts,
    Promote,
    Publish,
    RaiseHand,
    RemoveParticipant,
    SendBackstage,
    Spotlight,
)
from signalling.rules import ALL_MEDIA
from tests.signalling.support import HALL, OTHER_EVENT, STAGE, Harness, error_codes, member, of_type

ANN = ParticipantId("ann")


def stage_with(h: Harness, *pids: tuple[str, Role]) -> None:
    for pid, role in pids:
        h.join(pid, role)
        assert error_codes(h.send(pid, JoinSpace(space_id=STAGE))) == []


def role_of(h: Harness, pid: str) -> StageRole:
    return h.venue.spaces[STAGE].occupants[ParticipantId(pid)].stage_role


def test_promote_bring_live_send_backstage_demote_cycle() -> None:
    h = Harness()
    stage_with(h, ("org", Role.ORGANISER), ("ann", Role.ATTENDEE))
    h.send("ann", RaiseHand())
    effects = h.send("org", Promote(space_id=STAGE, participant_id=ANN))
    assert role_of(h, "ann") is StageRole.BACKSTAGE
    assert h.venue.occupant(ANN).hand_raised_at_ms is None  # type: ignore[union-attr]
    entry = of_type(effects, PresenceUpdated)[0].entry
    assert entry.stage_role is StageRole.BACKSTAGE and not entry.hand_raised
    assert of_type(effects, PermissionsChanged) == []  # backstage may not publish yet
    assert error_codes(h.send("ann", Publish(kind=MediaKind.CAMERA))) == [ErrorCode.PUBLISH_NOT_ALLOWED]

    effects = h.send("org", BringLive(space_id=STAGE, participant_id=ANN))
    assert role_of(h, "ann") is StageRole.LIVE
    assert PermissionsChanged(ANN, STAGE, ALL_MEDIA) in effects
    assert error_codes(h.send("ann", Publish(kind=MediaKind.CAMERA))) == []
    h.send("org", Spotlight(space_id=STAGE, participant_id=ANN))

    effects = h.send("org", SendBackstage(space_id=STAGE, participant_id=ANN))
    assert role_of(h, "ann") is StageRole.BACKSTAGE
    assert MediaUnpublish(ANN, STAGE, MediaKind.CAMERA) in effects
    assert SpotlightChanged(STAGE, None) in effects
    assert PermissionsChanged(ANN, STAGE, frozenset()) in effects

    effects = h.send("org", Demote(space_id=STAGE, participant_id=ANN))
    assert role_of(h, "ann") is StageRole.AUDIENCE
    kinds = [a.kind for a in of_type(effects, Analytics)]
    assert kinds == [AnalyticsKind.DEMOTE]


def test_demote_a_live_speaker_stops_their_media() -> None:
    h = Harness()
    stage_with(h, ("org", Role.ORGANISER), ("spk", Role.SPEAKER))
    h.send("org", BringLive(space_id=STAGE, participant_id=ParticipantId("spk")))
    h.send("spk", Publish(kind=MediaKind.MICROPHONE))
    h.send("spk", Publish(kind=MediaKind.SCREEN))
    effects = h.send("org", Demote(space_id=STAGE, participant_id=ParticipantId("spk")))
    unpublished = {e.kind for e in of_type(effects, MediaUnpublish)}
    assert unpublished == {MediaKind.MICROPHONE, MediaKind.SCREEN}
    assert h.venue.occupant(ParticipantId("spk")).published == set()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (Promote(space_id=HALL, participant_id=ANN), ErrorCode.INVALID_TARGET),
        (Promote(space_id=SpaceId("nope"), participant_id=ANN), ErrorCode.UNKNOWN_SPACE),
        (Promote(space_id=STAGE, participant_id=ParticipantId("ghost")), ErrorCode.UNKNOWN_PARTICIPANT),
        (BringLive(space_id=STAGE, participant_id=ANN), ErrorCode.INVALID_TARGET),
        (SendBackstage(space_id=STAGE, participant_id=ANN), ErrorCode.INVALID_TARGET),
        (Demote(space_id=STAGE, participant_id=ANN), ErrorCode.INVALID_TARGET),
        (Spotlight(space_id=STAGE, participant_id=ANN), ErrorCode.INVALID_TARGET),
        (Spotlight(space_id=LOBBY, participant_id=None), ErrorCode.INVALID_TARGET),
        (Promote(space_id=STAGE, participant_id=ParticipantId("bob")), ErrorCode.NOT_IN_SPACE),
    ],
)
def test_stage_controls_refuse_wrong_targets(payload: ClientPayload, code: ErrorCode) -> None:
    h = Harness()
    stage_with(h, ("org", Role.ORGANISER), ("ann", Role.ATTENDEE))
    h.join("bob")
    effects = h.send("org", payload)
    assert error_codes(effects) == [code] and len(effects) == 1
    assert role_of(h, "ann") is StageRole.AUDIENCE


def test_mute_participant_mutes_their_microphone() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    h.join("ann")
    h.send("ann", JoinSpace(space_id=HALL))
    assert error_codes(h.send("org", MuteParticipant(participant_id=ANN))) == [ErrorCode.NOT_PUBLISHED]
    h.send("ann", Publish(kind=MediaKind.MICROPHONE))
    effects = h.send("org", MuteParticipant(participant_id=ANN))
    assert MediaSetMuted(ANN, HALL, MediaKind.MICROPHONE, True) in effects
    assert of_type(effects, PresenceUpdated)[0].entry.muted == {MediaKind.MICROPHONE}
    mute = of_type(effects, Analytics)[0]
    assert (mute.kind, mute.actor_id) == (AnalyticsKind.MUTE, "org")
    assert h.send("org", MuteParticipant(participant_id=ANN)) == []


def test_organiser_lowers_a_hand() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    h.join("ann")
    h.send("ann", JoinSpace(space_id=HALL))
    h.send("ann", RaiseHand())
    effects = h.send("org", LowerParticipantHand(participant_id=ANN))
    assert of_type(effects, PresenceUpdated)[0].entry.hand_raised is False


def test_spotlight_in_a_room_and_clearing_it() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    h.join("ann")
    h.send("ann", JoinSpace(space_id=HALL))
    assert h.send("org", Spotlight(space_id=HALL, participant_id=ANN))[0] == SpotlightChanged(HALL, ANN)
    assert h.send("org", Spotlight(space_id=HALL, participant_id=ANN)) == []
    assert h.send("ann", JoinSpace(space_id=LOBBY)).count(SpotlightChanged(HALL, None)) == 1
    assert h.venue.spaces[HALL].spotlight is None


def test_lock_keeps_newcomers_out_but_not_organisers_or_occupants() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    h.join("org2", Role.ORGANISER)
    h.join("ann")
    h.join("bob")
    h.send("ann", JoinSpace(space_id=HALL))
    effects = h.send("org", LockSpace(space_id=HALL, locked=True))
    assert SpaceLockChanged(HALL, True) in effects
    assert error_codes(h.send("bob", JoinSpace(space_id=HALL))) == [ErrorCode.SPACE_LOCKED]
    assert error_codes(h.send("org2", JoinSpace(space_id=HALL))) == []
    assert h.where("ann") == HALL
    h.send("org", LockSpace(space_id=HALL, locked=False))
    assert error_codes(h.send("bob", JoinSpace(space_id=HALL))) == []
    assert error_codes(h.send("org", LockSpace(space_id=LOBBY, locked=True))) == [ErrorCode.INVALID_TARGET]


def test_remove_participant_closes_them_out_for_good() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    h.join("ann")
    h.connect(member("ann"), connection="c-ann-2")
    h.send("ann", JoinSpace(space_id=HALL))
    h.send("ann", Publish(kind=MediaKind.CAMERA))
    effects = h.send("org", RemoveParticipant(participant_id=ANN, reason="spam"))
    assert ParticipantRemoved(ANN, (ConnectionId("c-ann"), ConnectionId("c-ann-2")), "spam") in effects
    assert PresenceLeft(HALL, ANN, LeaveReason.REMOVED) in effects
    assert MediaUnpublish(ANN, HALL, MediaKind.CAMERA) in effects
    assert MediaClosePeer(ANN) in effects
    assert ANN not in h.venue.members
    assert error_codes(h.connect(member("ann"), connection="c-ann-3")) == [ErrorCode.REMOVED]
    assert error_codes(h.send("ann", JoinSpace(space_id=HALL))) == [ErrorCode.NOT_CONNECTED]


def test_organisers_cannot_be_removed() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    h.join("org2", Role.ORGANISER)
    effects = h.send("org", RemoveParticipant(participant_id=ParticipantId("org2")))
    assert error_codes(effects) == [ErrorCode.TARGET_IS_ORGANISER]


def test_end_space_tells_everyone_why_and_sends_them_to_the_lobby() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    h.join("ann")
    h.join("bob")
    h.send("ann", JoinSpace(space_id=HALL))
    h.send("bob", JoinSpace(space_id=HALL))
    effects = h.send("org", EndSpace(space_id=HALL, reason="session over"))
    assert effects[0] == SpaceEnded(HALL, "session over")
    assert {e.participant_id for e in of_type(effects, PresenceLeft)} == {"ann", "bob"}
    assert all(e.reason is LeaveReason.SPACE_ENDED for e in of_type(effects, PresenceLeft))
    assert h.where("ann") == LOBBY and h.where("bob") == LOBBY
    assert error_codes(h.send("ann", JoinSpace(space_id=HALL))) == [ErrorCode.SPACE_ENDED]
    assert error_codes(h.send("org", EndSpace(space_id=HALL))) == [ErrorCode.SPACE_ENDED]
    assert error_codes(h.send("org", EndSpace(space_id=LOBBY))) == [ErrorCode.INVALID_TARGET]


def test_end_event_tells_everyone_and_refuses_everything_after() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    h.join("ann")
    h.send("ann", JoinSpace(space_id=HALL))
    effects = h.send("org", EndEvent(reason="thanks for coming"))
    assert effects[0] == EventEnded("thanks for coming")
    assert {e.participant_id for e in of_type(effects, MediaClosePeer)} == {"org", "ann"}
    assert h.venue.ended and h.venue.members == {}
    assert error_codes(h.send("ann", JoinSpace(space_id=HALL))) == [ErrorCode.EVENT_ENDED]
    assert error_codes(h.connect(member("cat"))) == [ErrorCode.EVENT_ENDED]


ORGANISER_ACTIONS: list[ClientPayload] = [
    MuteParticipant(participant_id=ANN),
    LowerParticipantHand(participant_id=ANN),
    RemoveParticipant(participant_id=ANN),
    Promote(space_id=STAGE, participant_id=ANN),
    Demote(space_id=STAGE, participant_id=ANN),
    BringLive(space_id=STAGE, participant_id=ANN),
    SendBackstage(space_id=STAGE, participant_id=ANN),
    Spotlight(space_id=STAGE, participant_id=ANN),
    LockSpace(space_id=STAGE, locked=True),
    EndSpace(space_id=STAGE),
    EndEvent(),
    OpenBreakouts(space_id=STAGE, mode=BreakoutMode.GROUPS, group_size=1),
    BroadcastToBreakouts(space_id=STAGE, text="hello"),
    CloseBreakouts(space_id=STAGE),
]


def test_every_organiser_event_is_covered() -> None:
    from signalling.protocol import ORGANISER_EVENTS

    assert {p.name for p in ORGANISER_ACTIONS} == ORGANISER_EVENTS


@pytest.mark.parametrize("role", [Role.ATTENDEE, Role.SPEAKER])
@pytest.mark.parametrize("payload", ORGANISER_ACTIONS, ids=lambda p: p.name)
def test_non_organisers_can_never_perform_organiser_actions(role: Role, payload: ClientPayload) -> None:
    h = Harness()
    stage_with(h, ("ann", Role.ATTENDEE), ("spk", Role.SPEAKER), ("eve", role))
    h.send("ann", RaiseHand())
    before = repr(h.venue.spaces), dict(h.venue.members)
    effects = h.send("eve", payload)
    assert error_codes(effects) == [ErrorCode.FORBIDDEN] and len(effects) == 1
    assert (repr(h.venue.spaces), dict(h.venue.members)) == before
    assert not h.venue.ended


def test_an_organiser_of_another_event_cannot_act_here() -> None:
    h = Harness()
    stage_with(h, ("ann", Role.ATTENDEE))
    effects = h.connect(member("boss", Role.ORGANISER, event=OTHER_EVENT))
    assert error_codes(effects) == [ErrorCode.WRONG_EVENT]
    assert error_codes(h.send("boss", EndEvent())) == [ErrorCode.NOT_CONNECTED]
    assert not h.venue.ended
