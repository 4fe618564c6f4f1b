"""Hypothesis fuzzing of the venue: random sequences of (possibly invalid) events never raise and never
break an invariant, refused events change nothing, and the presence/count effect streams replayed by
a client-side model always agree with the venue's state."""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from signalling.effects import (
    Analytics,
    AnalyticsKind,
    Effect,
    ErrorReply,
    EventEnded,
    MediaAllowPublish,
    PresenceEntry,
    PresenceJoined,
    PresenceLeft,
    PresenceUpdated,
    SpaceCountChanged,
    SpaceEnded,
    SpaceSnapshot,
)
from signalling.events import (
    ActiveSpeakerObserved,
    ClientEvent,
    Connect,
    Disconnect,
    RawClientEvent,
    Reconfigure,
    Tick,
    VenueEvent,
)
from signalling.ids import LOBBY, ConnectionId, ParticipantId, SpaceId, TeamId
from signalling.invariants import violations
from signalling.kinds import BreakoutMode, LeaveReason, MediaKind, ReactionKind, Role, SpaceKind
from signalling.protocol import (
    BringLive,
    BroadcastToBreakouts,
    ClientPayload,
    CloseBreakouts,
    Demote,
    EndEvent,
    EndSpace,
    JoinSpace,
    LeaveSpace,
    LockSpace,
    LowerHand,
    LowerParticipantHand,
    MuteParticipant,
    OpenBreakouts,
    Promote,
    Publish,
    RaiseHand,
    React,
    RemoveParticipant,
    SendBackstage,
    SetMuted,
    Spotlight,
    Unpublish,
)
from signalling.reactions import ReactionAggregator
from signalling.rules import publishable_media
from signalling.spaces import SpaceConfig
from signalling.venue import Venue
from tests.signalling.support import (
    EVENT,
    HALL,
    OTHER_EVENT,
    SMALL,
    STAGE,
    TEAM_A,
    TEAM_A_ROOM,
    TEAM_B,
    TEAM_B_ROOM,
    member,
    standard_spaces,
)

MEMBERS = {
    m.participant_id: m
    for m in (
        member("org", Role.ORGANISER),
        member("org2", Role.ORGANISER),
        member("spk", Role.SPEAKER),
        member("a1", teams=[TEAM_A]),
        member("a2", teams=[TEAM_A, TEAM_B]),
        member("a3", spaces=[HALL, SMALL]),
        member("a4"),
        member("a5", teams=[TEAM_B]),
    )
}
INTRUDER = member("org-x", Role.ORGANISER, event=OTHER_EVENT)
PIDS = [*MEMBERS, ParticipantId("ghost")]
CONNECTIONS = [ConnectionId(f"{pid}#{tab}") for pid in [*MEMBERS, INTRUDER.participant_id] for tab in (1, 2)]
SPACES = [
    LOBBY,
    STAGE,
    HALL,
    SMALL,
    TEAM_A_ROOM,
    TEAM_B_ROOM,
    SpaceId("hall~1"),
    SpaceId("hall~2"),
    SpaceId("main-stage~1"),
    SpaceId("late-room"),
    SpaceId("nowhere"),
]


def _participant_payload(rng: random.Random) -> ClientPayload:
    kind = rng.choice(list(MediaKind))
    options: list[ClientPayload] = [
        JoinSpace(space_id=rng.choice(SPACES[:7])),
        JoinSpace(space_id=rng.choice(SPACES)),
        LeaveSpace(),
        Publish(kind=kind),
        Publish(kind=kind),
        Unpublish(kind=kind),
        SetMuted(kind=kind, muted=rng.random() < 0.5),
        RaiseHand(),
        LowerHand(),
        React(reaction=rng.choice(list(ReactionKind))),
    ]
    return rng.choice(options)


def _organiser_payload(rng: random.Random, venue: Venue) -> ClientPayload:
    """Targets are mostly drawn from who is really there, so that controls often succeed."""
    space_id = rng.choice(SPACES)
    stage_here = list(venue.spaces[STAGE].occupants) if STAGE in venue.spaces else []
    target = rng.choice(stage_here) if stage_here and rng.random() < 0.6 else rng.choice(PIDS)
    open_origin = rng.choice(list(venue.breakouts) or SPACES)
    groups = tuple(tuple(rng.sample(PIDS, rng.randint(1, 3))) for _ in range(rng.randint(0, 3)))
    options: list[ClientPayload] = [
        MuteParticipant(participant_id=target),
        LowerParticipantHand(participant_id=target),
        RemoveParticipant(participant_id=target, reason="fuzz"),
        Promote(space_id=STAGE, participant_id=target),
        Demote(space_id=STAGE, participant_id=target),
        BringLive(space_id=STAGE, participant_id=target),
        SendBackstage(space_id=rng.choice([STAGE, space_id]), participant_id=target),
        Spotlight(space_id=space_id, participant_id=rng.choice([None, target])),
        LockSpace(space_id=space_id, locked=rng.random() < 0.5),
        EndSpace(space_id=space_id, reason="fuzz"),
        OpenBreakouts(space_id=space_id, mode=BreakoutMode.BY_TEAM),
        OpenBreakouts(space_id=space_id, mode=BreakoutMode.GROUPS, group_size=rng.randint(1, 4)),
        OpenBreakouts(space_id=space_id, mode=BreakoutMode.MANUAL, groups=groups),
        BroadcastToBreakouts(space_id=open_origin, text="hi"),
        CloseBreakouts(space_id=open_origin),
        CloseBreakouts(space_id=open_origin),
    ]
    if rng.random() < 0.004:
        return EndEvent(reason="fuzz")
    if rng.random() < 0.3:
        return _participant_payload(rng)
    return rng.choice(options)


def _raw_data(rng: random.Random) -> object:
    values: list[object] = [None, 1, True, "x", "hall", "camera", [], {}, "a" * 70, 2.5]
    return rng.choice(
        [
            None,
            rng.choice(values),
            {rng.choice(["space_id", "kind", "participant_id", "bogus"]): rng.choice(values)},
        ]
    )


def _random_venue(rng: random.Random) -> Reconfigure:
    """The organiser's spaces after random edits: some dropped, some resized, a kind changed, one added."""
    spaces: list[SpaceConfig] = []
    for original in standard_spaces():
        roll = rng.random()
        config = original
        if roll < 0.2:
            continue
        if roll < 0.4:
            config = dataclasses.replace(original, capacity=rng.randint(1, 30))
        elif roll < 0.45 and original.kind is SpaceKind.TEAM_ROOM:
            config = dataclasses.replace(original, kind=SpaceKind.ROOM, team_id=None)
        elif roll < 0.5 and original.kind is SpaceKind.ROOM:
            config = dataclasses.replace(original, kind=SpaceKind.TEAM_ROOM, team_id=TeamId(TEAM_B))
        spaces.append(config)
    if rng.random() < 0.5:
        spaces.append(SpaceConfig(SpaceId("late-room"), SpaceKind.ROOM, rng.randint(1, 5), "Late"))
    return Reconfigure(tuple(spaces))


def _random_event(rng: random.Random, venue: Venue) -> VenueEvent:
    roll = rng.random()
    if roll < 0.02:
        return _random_venue(rng)
    roll = rng.random()
    connection_id = rng.choice(CONNECTIONS)
    if roll < 0.05:
        pid = connection_id.split("#")[0]
        return Connect(
            connection_id, INTRUDER if pid == INTRUDER.participant_id else MEMBERS[ParticipantId(pid)]
        )
    if roll < 0.08:
        return Disconnect(connection_id)
    if roll < 0.14:
        return Tick()
    if roll < 0.18:
        return ActiveSpeakerObserved(rng.choice(SPACES), rng.choice([None, *PIDS]))
    if roll < 0.21:
        name = rng.choice(["join_space", "publish", "spotlight", "nope", 3])
        return RawClientEvent(connection_id, name, _raw_data(rng))
    if roll < 0.24:
        return ClientEvent(connection_id, _organiser_payload(rng, venue))
    if roll < 0.62:
        sender = ConnectionId(f"{rng.choice(list(MEMBERS))}#1")
        return ClientEvent(sender, _participant_payload(rng))
    return ClientEvent(ConnectionId(rng.choice(["org#1", "org2#1"])), _organiser_payload(rng, venue))


def scenario(rng: random.Random, venue: Venue) -> Iterator[tuple[VenueEvent, int]]:
    """Everyone connects and walks into some space, then random events follow at random times.

    Events are drawn lazily so that organiser controls can aim at whoever is on stage right now.
    """
    for pid, m in MEMBERS.items():
        connection_id = ConnectionId(f"{pid}#1")
        yield Connect(connection_id, m), 0
        yield ClientEvent(connection_id, JoinSpace(space_id=rng.choice(SPACES[:6]))), 0
    for _ in range(rng.randint(20, 150)):
        yield _random_event(rng, venue), rng.choice([0, 0, 10, 300, 1000, 4000])


@dataclass
class ClientModel:
    """What a runtime and its clients believe after executing every effect in order.

    ``room_of`` follows the routing contract: a participant's sockets move to a space's room when
    their ``SpaceSnapshot`` is executed and leave the event with their ``depart`` analytics entry.
    """

    counts: dict[SpaceId, int] = field(default_factory=lambda: defaultdict(int))
    present: dict[SpaceId, dict[ParticipantId, PresenceEntry]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    room_of: dict[ParticipantId, SpaceId] = field(default_factory=dict)
    told_space_ended: dict[SpaceId, set[ParticipantId]] = field(default_factory=dict)

    def absorb(self, effects: list[Effect]) -> None:
        for effect in effects:
            match effect:
                case SpaceCountChanged(space_id, count):
                    self.counts[space_id] = count
                case PresenceJoined(space_id, entry):
                    assert entry.participant_id not in self.present[space_id], "duplicate presence"
                    self.present[space_id][entry.participant_id] = entry
                case PresenceUpdated(space_id, entry):
                    assert entry.participant_id in self.present[space_id], "update of someone absent"
                    self.present[space_id][entry.participant_id] = entry
                case PresenceLeft(space_id, participant_id, reason):
                    del self.present[space_id][participant_id]
                    if reason is LeaveReason.SPACE_ENDED:
                        assert participant_id in self.told_space_ended[space_id], "left without being told"
                case SpaceSnapshot(participant_id=participant_id, space_id=space_id, occupants=occupants):
                    self.room_of[participant_id] = space_id
                    if space_id != LOBBY:
                        assert occupants == tuple(self.present[space_id].values()), "snapshot disagrees"
                case SpaceEnded(space_id, _):
                    self.told_space_ended[space_id] = {p for p, s in self.room_of.items() if s == space_id}
                case Analytics(kind=AnalyticsKind.DEPART, participant_id=participant_id):
                    assert participant_id is not None
                    del self.room_of[participant_id]
                case EventEnded():
                    self.counts.clear()
                    self.present.clear()
                case _:
                    pass

    def check(self, venue: Venue) -> None:
        for space_id, space in venue.spaces.items():
            assert self.counts[space_id] == space.count, space_id
            if space_id != LOBBY:
                fresh = {pid: venue.presence_entry(pid) for pid in space.occupants}
                assert self.present[space_id] == fresh, f"unannounced presence change in {space_id}"
        for space_id, count in self.counts.items():
            if space_id not in venue.spaces:
                assert count == 0 and not self.present[space_id], space_id
        assert self.room_of == {pid: venue.location_of(pid) for pid in venue.members}


def fingerprint(venue: Venue) -> str:
    return repr((venue.spaces, venue.members, venue.breakouts, venue.ended))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=True))
def test_random_event_sequences_keep_every_invariant(rng: random.Random) -> None:
    venue = Venue(EVENT, standard_spaces(), grace_period_ms=5_000, reactions=ReactionAggregator())
    model = ClientModel()
    now_ms = 0
    for event, step_ms in scenario(rng, venue):
        now_ms += step_ms
        note(f"at {now_ms} ms: {event!r}")
        before = fingerprint(venue)
        effects = venue.apply(event, now_ms)
        assert violations(venue) == []
        model.absorb(effects)
        model.check(venue)
        replies = [e for e in effects if isinstance(e, ErrorReply)]
        if replies:
            assert effects == replies[:1], "a refused event yields exactly one error and nothing else"
            assert fingerprint(venue) == before, "a refused event changed the state"
            if isinstance(event, ClientEvent | RawClientEvent | Connect):
                assert replies[0].connection_id == event.connection_id
        changed = fingerprint(venue) != before
        if changed and not isinstance(event, ActiveSpeakerObserved):
            assert any(isinstance(e, Analytics) for e in effects), "a state change left no analytics entry"
        for effect in effects:
            if isinstance(effect, MediaAllowPublish):
                occupant = venue.spaces[effect.space_id].occupants[effect.participant_id]
                assert effect.kind in publishable_media(
                    venue.spaces[effect.space_id].kind, occupant.stage_role
                )
