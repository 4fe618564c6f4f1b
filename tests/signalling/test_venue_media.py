"""Publishing rules, self mute, hands, reactions through the venue, and the active speaker."""

from __future__ import annotations

import pytest

from signalling.effects import (
    ActiveSpeakerChanged,
    Analytics,
    AnalyticsKind,
    MediaAllowPublish,
    MediaSetMuted,
    MediaUnpublish,
    PresenceUpdated,
    ReactionBurst,
)
from signalling.errors import ErrorCode
from signalling.ids import LOBBY, ParticipantId, SpaceId
from signalling.kinds import MediaKind, ReactionKind, Role
from signalling.protocol import (
    BringLive,
    EndSpace,
    JoinSpace,
    LowerHand,
    Publish,
    RaiseHand,
    React,
    SetMuted,
    Unpublish,
)
from tests.signalling.support import HALL, STAGE, TEAM_A, TEAM_A_ROOM, Harness, error_codes, of_type

ANN = ParticipantId("ann")


@pytest.mark.parametrize(
    ("space", "allowed"), [(HALL, True), (TEAM_A_ROOM, True), (STAGE, False), (LOBBY, False)]
)
@pytest.mark.parametrize("kind", list(MediaKind))
def test_who_may_publish_depends_on_the_space(space: SpaceId, allowed: bool, kind: MediaKind) -> None:
    h = Harness()
    h.join("ann", teams=[TEAM_A])
    if space != LOBBY:
        h.send("ann", JoinSpace(space_id=space))
    effects = h.send("ann", Publish(kind=kind))
    if allowed:
        assert MediaAllowPublish(ANN, space, kind) in effects
        assert of_type(effects, PresenceUpdated)[0].entry.published == {kind}
        assert [a.kind for a in of_type(effects, Analytics)] == [AnalyticsKind.PUBLISH]
    else:
        assert error_codes(effects) == [ErrorCode.PUBLISH_NOT_ALLOWED] and len(effects) == 1


def test_live_speakers_publish_on_stage() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    h.join("spk", Role.SPEAKER)
    for pid in ("org", "spk"):
        h.send(pid, JoinSpace(space_id=STAGE))
    assert error_codes(h.send("spk", Publish(kind=MediaKind.SCREEN))) == [ErrorCode.PUBLISH_NOT_ALLOWED]
    h.send("org", BringLive(space_id=STAGE, participant_id=ParticipantId("spk")))
    assert error_codes(h.send("spk", Publish(kind=MediaKind.SCREEN))) == []


def test_publish_twice_and_unpublish_unpublished_are_refused() -> None:
    h = Harness()
    h.join("ann")
    h.send("ann", JoinSpace(space_id=HALL))
    assert error_codes(h.send("ann", Unpublish(kind=MediaKind.CAMERA))) == [ErrorCode.NOT_PUBLISHED]
    h.send("ann", Publish(kind=MediaKind.CAMERA))
    assert error_codes(h.send("ann", Publish(kind=MediaKind.CAMERA))) == [ErrorCode.ALREADY_PUBLISHED]
    effects = h.send("ann", Unpublish(kind=MediaKind.CAMERA))
    assert MediaUnpublish(ANN, HALL, MediaKind.CAMERA) in effects


def test_leaving_a_space_unpublishes_everything() -> None:
    h = Harness()
    h.join("ann")
    h.send("ann", JoinSpace(space_id=HALL))
    h.send("ann", Publish(kind=MediaKind.CAMERA))
    h.send("ann", Publish(kind=MediaKind.MICROPHONE))
    effects = h.send("ann", JoinSpace(space_id=STAGE))
    assert {e.kind for e in of_type(effects, MediaUnpublish)} == {MediaKind.CAMERA, MediaKind.MICROPHONE}
    assert h.venue.occupant(ANN).published == set()  # type: ignore[union-attr]


def test_self_mute_and_unmute() -> None:
    h = Harness()
    h.join("ann")
    h.send("ann", JoinSpace(space_id=HALL))
    assert error_codes(h.send("ann", SetMuted(kind=MediaKind.MICROPHONE, muted=True))) == [
        ErrorCode.NOT_PUBLISHED
    ]
    h.send("ann", Publish(kind=MediaKind.MICROPHONE))
    effects = h.send("ann", SetMuted(kind=MediaKind.MICROPHONE, muted=True))
    assert MediaSetMuted(ANN, HALL, MediaKind.MICROPHONE, True) in effects
    assert h.send("ann", SetMuted(kind=MediaKind.MICROPHONE, muted=True)) == []
    effects = h.send("ann", SetMuted(kind=MediaKind.MICROPHONE, muted=False))
    assert MediaSetMuted(ANN, HALL, MediaKind.MICROPHONE, False) in effects
    assert [a.kind for a in of_type(effects, Analytics)] == [AnalyticsKind.UNMUTE]


def test_hands_are_raised_and_lowered_in_spaces_only() -> None:
    h = Harness()
    h.join("ann")
    assert error_codes(h.send("ann", RaiseHand())) == [ErrorCode.NOT_IN_SPACE]
    h.send("ann", JoinSpace(space_id=HALL))
    effects = h.send("ann", RaiseHand())
    assert of_type(effects, PresenceUpdated)[0].entry.hand_raised
    assert [a.kind for a in of_type(effects, Analytics)] == [AnalyticsKind.HAND_RAISED]
    assert h.send("ann", RaiseHand()) == []
    effects = h.send("ann", LowerHand())
    assert not of_type(effects, PresenceUpdated)[0].entry.hand_raised
    h.send("ann", RaiseHand())
    h.send("ann", JoinSpace(space_id=STAGE))
    assert h.venue.occupant(ANN).hand_raised_at_ms is None  # type: ignore[union-attr]


def test_reactions_are_rate_limited_and_flushed_as_one_burst_per_second() -> None:
    h = Harness()
    h.join("ann")
    h.join("bob")
    h.send("ann", JoinSpace(space_id=HALL))
    h.send("bob", JoinSpace(space_id=HALL))
    assert error_codes(h.send("ann", React(reaction=ReactionKind.CLAP))) == []
    for _ in range(4):
        h.send("ann", React(reaction=ReactionKind.CLAP))
    assert error_codes(h.send("ann", React(reaction=ReactionKind.CLAP))) == [ErrorCode.RATE_LIMITED]
    h.send("bob", React(reaction=ReactionKind.HEART))
    assert of_type(h.tick(500), ReactionBurst) == []
    bursts = of_type(h.tick(500), ReactionBurst)
    assert bursts == [ReactionBurst(HALL, ((ReactionKind.CLAP, 5), (ReactionKind.HEART, 1)), h.now_ms)]
    assert of_type(h.tick(1000), ReactionBurst) == []
    assert error_codes(h.send("ann", React(reaction=ReactionKind.WOW))) == []


def test_reactions_need_a_space_and_die_with_it() -> None:
    h = Harness()
    h.join("org", Role.ORGANISER)
    h.join("ann")
    assert error_codes(h.send("ann", React(reaction=ReactionKind.WOW))) == [ErrorCode.NOT_IN_SPACE]
    h.send("ann", JoinSpace(space_id=HALL))
    h.send("ann", React(reaction=ReactionKind.WOW))
    h.send("org", EndSpace(space_id=HALL))
    assert of_type(h.tick(2000), ReactionBurst) == []


def test_active_speaker_follows_the_sfu_but_only_for_live_microphones() -> None:
    h = Harness()
    h.join("ann")
    h.join("bob")
    h.send("ann", JoinSpace(space_id=HALL))
    h.send("bob", JoinSpace(space_id=HALL))
    assert h.speaker_observed(HALL, "ann") == []  # no microphone published
    h.send("ann", Publish(kind=MediaKind.MICROPHONE))
    assert h.speaker_observed(HALL, "ann") == [ActiveSpeakerChanged(HALL, ANN)]
    assert h.speaker_observed(HALL, "ann") == []
    assert h.speaker_observed(SpaceId("nowhere"), "ann") == []
    effects = h.send("ann", SetMuted(kind=MediaKind.MICROPHONE, muted=True))
    assert ActiveSpeakerChanged(HALL, None) in effects
    h.send("ann", SetMuted(kind=MediaKind.MICROPHONE, muted=False))
    h.speaker_observed(HALL, "ann")
    effects = h.send("ann", JoinSpace(space_id=LOBBY))
    assert ActiveSpeakerChanged(HALL, None) in effects


def test_active_speaker_reports_for_the_lobby_or_strangers_are_ignored() -> None:
    h = Harness()
    h.join("ann")
    h.join("bob")
    h.send("ann", JoinSpace(space_id=HALL))
    h.send("ann", Publish(kind=MediaKind.MICROPHONE))
    assert h.speaker_observed(LOBBY, "bob") == []
    assert h.speaker_observed(HALL, "bob") == []
    assert h.speaker_observed(HALL, "nobody") == []
    assert h.speaker_observed(HALL, None) == []
