"""The venue state machine of one event: ``Venue.apply(event, now_ms) -> list[Effect]``.

It owns the lobby and every space of the event, who is where, stage roles, published media,
hands, locks, spotlights, breakouts and connections. It performs no I/O: the runtime feeds it
events with the current time and executes the effects it returns. A refused client event yields
one ``ErrorReply`` to that client and leaves the state exactly as it was: every handler checks
first and mutates only after all checks passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from signalling.breakouts import (
    BreakoutSession,
    assign_by_team,
    breakout_room_id,
    check_manual_groups,
    split_into_groups,
)
from signalling.effects import (
    ActiveSpeakerChanged,
    Analytics,
    AnalyticsKind,
    BreakoutBroadcast,
    BreakoutRoom,
    BreakoutsClosed,
    BreakoutsOpened,
    Effect,
    ErrorReply,
    EventEnded,
    MediaAllowPublish,
    MediaClosePeer,
    MediaSetMuted,
    MediaSubscribe,
    MediaUnpublish,
    MediaUnsubscribe,
    ParticipantRemoved,
    PermissionsChanged,
    PresenceEntry,
    PresenceJoined,
    PresenceLeft,
    PresenceUpdated,
    ReactionBurst,
    SpaceCountChanged,
    SpaceEnded,
    SpaceLockChanged,
    SpaceSnapshot,
    SpaceSummary,
    SpotlightChanged,
    VenueChanged,
    Welcome,
)
from signalling.errors import ErrorCode, VenueError
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
from signalling.ids import LOBBY, ConnectionId, EventId, ParticipantId, SpaceId, TeamId
from signalling.kinds import BreakoutMode, LeaveReason, MediaKind, SpaceKind, StageRole
from signalling.members import Member
from signalling.protocol import (
    MAX_ID_CHARS,
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
    validate,
)
from signalling.reactions import ReactionAggregator
from signalling.rules import entry_refusal, initial_stage_role, may_stay, publishable_media
from signalling.sessions import SessionTable
from signalling.spaces import Occupant, SpaceConfig, SpaceState

DEFAULT_GRACE_PERIOD_MS = 30_000

_Effects = list[Effect]
_AUDIENCE = (StageRole.AUDIENCE,)
_BACKSTAGE = (StageRole.BACKSTAGE,)
_LIVE = (StageRole.LIVE,)
_SPEAKERS = (StageRole.BACKSTAGE, StageRole.LIVE)


def _refuse(code: ErrorCode, message: str) -> VenueError:
    return VenueError(code, message)


class Venue:
    """The live state of one event's venue."""

    def __init__(
        self,
        event_id: EventId,
        spaces: Iterable[SpaceConfig],
        *,
        grace_period_ms: int = DEFAULT_GRACE_PERIOD_MS,
        reactions: ReactionAggregator | None = None,
    ) -> None:
        self.event_id = event_id
        self._spaces: dict[SpaceId, SpaceState] = {
            LOBBY: SpaceState(SpaceConfig(LOBBY, SpaceKind.LOBBY, None, title="Lobby"))
        }
        for config in spaces:
            if config.kind in (SpaceKind.LOBBY, SpaceKind.BREAKOUT):
                raise ValueError(f"space {config.space_id!r}: lobby and breakout rooms are built in")
            if config.space_id in self._spaces:
                raise ValueError(f"duplicate space id {config.space_id!r}")
            self._spaces[config.space_id] = SpaceState(config)
        self._members: dict[ParticipantId, Member] = {}
        self._location: dict[ParticipantId, SpaceId] = {}
        # The last presence entry announced for each occupant of a space (not the lobby). Every
        # change of an occupant is announced, so it equals ``presence_entry`` (the fuzzer checks).
        self._announced: dict[ParticipantId, PresenceEntry] = {}
        self._sessions = SessionTable(grace_period_ms)
        self._removed: set[ParticipantId] = set()
        self._breakouts: dict[SpaceId, BreakoutSession] = {}
        self._reactions = reactions if reactions is not None else ReactionAggregator()
        self._ended = False
        self._last_now_ms = 0

    # --- read-only views -----------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def spaces(self) -> Mapping[SpaceId, SpaceState]:
        return self._spaces

    @property
    def members(self) -> Mapping[ParticipantId, Member]:
        return self._members

    @property
    def breakouts(self) -> Mapping[SpaceId, BreakoutSession]:
        return self._breakouts

    def location_of(self, participant_id: ParticipantId) -> SpaceId | None:
        return self._location.get(participant_id)

    def connections_of(self, participant_id: ParticipantId) -> tuple[ConnectionId, ...]:
        return self._sessions.connections_of(participant_id)

    def is_online(self, participant_id: ParticipantId) -> bool:
        return self._sessions.is_online(participant_id)

    def occupant(self, participant_id: ParticipantId) -> Occupant | None:
        space_id = self._location.get(participant_id)
        return None if space_id is None else self._spaces[space_id].occupants[participant_id]

    # --- the state machine ---------------------------------------------------------------------------

    def apply(self, event: VenueEvent, now_ms: int) -> list[Effect]:
        """Apply one event at ``now_ms`` (clamped so time never runs backwards) and return its effects."""
        now_ms = max(now_ms, self._last_now_ms)
        self._last_now_ms = now_ms
        out: _Effects = []
        match event:
            case Connect(connection_id, member):
                self._connect(connection_id, member, now_ms, out)
            case Disconnect(connection_id):
                self._disconnect(connection_id, now_ms, out)
            case Tick():
                self._tick(now_ms, out)
            case ActiveSpeakerObserved(space_id, participant_id):
                self._observe_active_speaker(space_id, participant_id, out)
            case Reconfigure(spaces):
                self._reconfigure(spaces, now_ms, out)
            case ClientEvent(connection_id, payload):
                self._client_event(connection_id, payload, now_ms, out)
            case RawClientEvent(connection_id, event_name, data):
                parsed = validate(event_name, data)
                if isinstance(parsed, VenueError):
                    shown = event_name[:MAX_ID_CHARS] if isinstance(event_name, str) else None
                    out.append(ErrorReply(connection_id, parsed.code, parsed.message, shown))
                else:
                    self._client_event(connection_id, parsed, now_ms, out)
        return out

    # --- reconfiguration -----------------------------------------------------------------------------

    def configured_spaces(self) -> tuple[SpaceConfig, ...]:
        """The organiser's spaces as the venue holds them now (not the lobby nor breakout rooms)."""
        return tuple(
            s.config for s in self._spaces.values() if s.kind not in (SpaceKind.LOBBY, SpaceKind.BREAKOUT)
        )

    def _busy_with_breakouts(self, space_id: SpaceId) -> bool:
        return space_id in self._breakouts or any(
            space_id in session.room_ids for session in self._breakouts.values()
        )

    def _reconfigure(self, spaces: tuple[SpaceConfig, ...], now_ms: int, out: _Effects) -> None:
        """Bring the organiser's spaces in line with ``spaces``. A space that open breakouts use is
        left as it is: the next reconfiguration, after the breakouts close, catches it up."""
        if self._ended:
            return
        wanted: dict[SpaceId, SpaceConfig] = {}
        for config in spaces:  # written by our runtime from the control API; skip what cannot be
            if config.kind not in (SpaceKind.LOBBY, SpaceKind.BREAKOUT) and config.space_id not in wanted:
                wanted[config.space_id] = config
        changed = False
        for space_id, space in list(self._spaces.items()):
            if space.kind in (SpaceKind.LOBBY, SpaceKind.BREAKOUT) or self._busy_with_breakouts(space_id):
                continue
            wanted_config = wanted.get(space_id)
            if wanted_config == space.config:
                continue
            if wanted_config is not None and (wanted_config.kind, wanted_config.team_id) == (
                space.kind,
                space.config.team_id,
            ):
                space.config = wanted_config  # a new title or capacity; nobody inside has to move
                space.kept_over_capacity = space.count if space.is_full else 0
                changed = True
                continue
            # removed, or its kind or team changed: everyone inside goes back to the lobby first
            if not space.ended and space.occupants:
                out.append(SpaceEnded(space_id, "the organiser changed the venue"))
            for participant_id in list(space.occupants):
                self._move(participant_id, LOBBY, now_ms, LeaveReason.SPACE_ENDED, out)
            self._reactions.discard_space(space_id)
            del self._spaces[space_id]
            changed = True
        for space_id, config in wanted.items():
            if space_id not in self._spaces:
                self._spaces[space_id] = SpaceState(config)
                changed = True
        if changed:
            out.append(VenueChanged(self.venue_map()))
            detail = (("spaces", str(len(self.configured_spaces()))),)
            out.append(Analytics(AnalyticsKind.VENUE_CHANGED, now_ms, None, detail=detail))

    # --- connections ---------------------------------------------------------------------------------

    def _connect(self, connection_id: ConnectionId, member: Member, now_ms: int, out: _Effects) -> None:
        participant_id = member.participant_id
        refusal: VenueError | None = None
        if self._ended:
            refusal = _refuse(ErrorCode.EVENT_ENDED, "this event has ended")
        elif member.event_id != self.event_id:
            refusal = _refuse(ErrorCode.WRONG_EVENT, "this token is for another event")
        elif participant_id in self._removed:
            refusal = _refuse(ErrorCode.REMOVED, "an organiser removed you from this event")
        elif self._sessions.participant_of(connection_id) is not None:
            refusal = _refuse(ErrorCode.ALREADY_CONNECTED, "this connection has already joined")
        if refusal is not None:
            out.append(ErrorReply(connection_id, refusal.code, refusal.message))
            return
        attached = self._sessions.attach(connection_id, participant_id)
        if attached.first:
            self._members[participant_id] = member
            out.append(Welcome(connection_id, participant_id, LOBBY, resumed=False, spaces=self.venue_map()))
            out.append(Analytics(AnalyticsKind.ARRIVE, now_ms, participant_id))
            self._place(participant_id, LOBBY, now_ms, None, out)
            return
        space_id = self._location[participant_id]
        out.append(Welcome(connection_id, participant_id, space_id, resumed=True, spaces=self.venue_map()))
        if attached.resumed_from_grace:
            out.append(Analytics(AnalyticsKind.RECONNECT, now_ms, participant_id, space_id))
            self._announce(participant_id, out)
        out.append(self._snapshot(participant_id, None))
        if space_id != LOBBY:
            out.append(MediaSubscribe(participant_id, space_id))

    def _disconnect(self, connection_id: ConnectionId, now_ms: int, out: _Effects) -> None:
        participant_id = self._sessions.detach(connection_id, now_ms)
        if participant_id is None:
            return
        space_id = self._location[participant_id]
        occupant = self._spaces[space_id].occupants[participant_id]
        for kind in sorted(occupant.published):
            self._drop_track(participant_id, kind, out)
        out.append(MediaClosePeer(participant_id))
        out.append(Analytics(AnalyticsKind.DISCONNECT, now_ms, participant_id, space_id))
        self._announce(participant_id, out)

    def _tick(self, now_ms: int, out: _Effects) -> None:
        for participant_id in self._sessions.expire(now_ms):
            if participant_id in self._members:
                self._depart(participant_id, now_ms, LeaveReason.DISCONNECTED, out)
        for burst in self._reactions.flush(now_ms):
            space = self._spaces.get(burst.space_id)
            if space is not None and not space.ended:
                out.append(ReactionBurst(burst.space_id, burst.counts, burst.window_end_ms))

    def _observe_active_speaker(
        self, space_id: SpaceId, participant_id: ParticipantId | None, out: _Effects
    ) -> None:
        space = self._spaces.get(space_id)
        if space is None or space.kind is SpaceKind.LOBBY:
            return
        if participant_id is not None:
            occupant = space.occupants.get(participant_id)
            if occupant is None or not _speaking(occupant):
                return
        if space.active_speaker != participant_id:
            space.active_speaker = participant_id
            out.append(ActiveSpeakerChanged(space_id, participant_id))

    # --- client events -------------------------------------------------------------------------------

    def _client_event(
        self, connection_id: ConnectionId, payload: ClientPayload, now_ms: int, out: _Effects
    ) -> None:
        participant_id = self._sessions.participant_of(connection_id)
        error: VenueError | None
        if self._ended:
            error = _refuse(ErrorCode.EVENT_ENDED, "this event has ended")
        elif participant_id is None:
            error = _refuse(ErrorCode.NOT_CONNECTED, "join the event first")
        elif payload.organiser_only and not self._members[participant_id].is_organiser:
            error = _refuse(ErrorCode.FORBIDDEN, f"only organisers may {payload.name}")
        else:
            error = self._dispatch(participant_id, payload, now_ms, out)
        if error is not None:
            out.append(ErrorReply(connection_id, error.code, error.message, payload.name))

    def _dispatch(  # noqa: PLR0911, PLR0912 - one branch per client event
        self, actor: ParticipantId, payload: ClientPayload, now_ms: int, out: _Effects
    ) -> VenueError | None:
        match payload:
            case JoinSpace(space_id=space_id):
                return self._join_space(actor, space_id, now_ms, out)
            case LeaveSpace():
                if self._location[actor] == LOBBY:
                    return _refuse(ErrorCode.NOT_IN_SPACE, "you are already in the lobby")
                self._move(actor, LOBBY, now_ms, LeaveReason.LEFT, out)
                return None
            case Publish(kind=kind):
                return self._publish(actor, kind, now_ms, out)
            case Unpublish(kind=kind):
                return self._unpublish(actor, kind, now_ms, out)
            case SetMuted(kind=kind, muted=muted):
                return self._set_muted(actor, actor, kind, muted=muted, now_ms=now_ms, out=out)
            case RaiseHand():
                return self._set_hand(actor, actor, raised=True, now_ms=now_ms, out=out)
            case LowerHand():
                return self._set_hand(actor, actor, raised=False, now_ms=now_ms, out=out)
            case React(reaction=reaction):
                space_id = self._location[actor]
                if space_id == LOBBY:
                    return _refuse(ErrorCode.NOT_IN_SPACE, "react from inside a space")
                if not self._reactions.offer(actor, space_id, reaction, now_ms):
                    return _refuse(ErrorCode.RATE_LIMITED, "too many reactions; slow down")
                detail = (("reaction", reaction.value),)
                out.append(Analytics(AnalyticsKind.REACTION, now_ms, actor, space_id, detail=detail))
                return None
            case MuteParticipant(participant_id=target):
                if target not in self._members:
                    return _unknown_participant(target)
                return self._set_muted(
                    actor, target, MediaKind.MICROPHONE, muted=True, now_ms=now_ms, out=out
                )
            case LowerParticipantHand(participant_id=target):
                if target not in self._members:
                    return _unknown_participant(target)
                return self._set_hand(actor, target, raised=False, now_ms=now_ms, out=out)
            case RemoveParticipant(participant_id=target, reason=reason):
                return self._remove(actor, target, reason, now_ms, out)
            case Promote(space_id=space_id, participant_id=target):
                return self._change_stage_role(
                    actor,
                    space_id,
                    target,
                    from_roles=_AUDIENCE,
                    to_role=StageRole.BACKSTAGE,
                    now_ms=now_ms,
                    out=out,
                )
            case Demote(space_id=space_id, participant_id=target):
                return self._change_stage_role(
                    actor,
                    space_id,
                    target,
                    from_roles=_SPEAKERS,
                    to_role=StageRole.AUDIENCE,
                    now_ms=now_ms,
                    out=out,
                )
            case BringLive(space_id=space_id, participant_id=target):
                return self._change_stage_role(
                    actor,
                    space_id,
                    target,
                    from_roles=_BACKSTAGE,
                    to_role=StageRole.LIVE,
                    now_ms=now_ms,
                    out=out,
                )
            case SendBackstage(space_id=space_id, participant_id=target):
                return self._change_stage_role(
                    actor,
                    space_id,
                    target,
                    from_roles=_LIVE,
                    to_role=StageRole.BACKSTAGE,
                    now_ms=now_ms,
                    out=out,
                )
            case Spotlight(space_id=space_id, participant_id=target):
                return self._spotlight(actor, space_id, target, now_ms, out)
            case LockSpace(space_id=space_id, locked=locked):
                return self._lock(actor, space_id, locked, now_ms, out)
            case EndSpace(space_id=space_id, reason=reason):
                return self._end_space(actor, space_id, reason, now_ms, out)
            case EndEvent(reason=reason):
                self._end_event(actor, reason, now_ms, out)
                return None
            case OpenBreakouts():
                return self._open_breakouts(actor, payload, now_ms, out)
            case BroadcastToBreakouts(space_id=space_id, text=text):
                session = self._breakouts.get(space_id)
                if session is None:
                    return _refuse(ErrorCode.NO_BREAKOUTS, "this space has no open breakouts")
                out.append(BreakoutBroadcast(space_id, session.room_ids, actor, text))
                out.append(Analytics(AnalyticsKind.BREAKOUTS_BROADCAST, now_ms, None, space_id, actor))
                return None
            case CloseBreakouts(space_id=space_id):
                if space_id not in self._breakouts:
                    return _refuse(ErrorCode.NO_BREAKOUTS, "this space has no open breakouts")
                self._close_breakouts(actor, space_id, now_ms, out)
                return None

    # --- moving between spaces -----------------------------------------------------------------------

    def _join_space(
        self, actor: ParticipantId, space_id: SpaceId, now_ms: int, out: _Effects
    ) -> VenueError | None:
        space = self._spaces.get(space_id)
        if space is None:
            return _refuse(ErrorCode.UNKNOWN_SPACE, f"no space {space_id}")
        if self._location[actor] == space_id:
            return _refuse(ErrorCode.ALREADY_IN_SPACE, "you are already in this space")
        if space.kind is not SpaceKind.LOBBY:
            refusal = entry_refusal(self._members[actor], space)
            if refusal is not None:
                return refusal
        self._move(actor, space_id, now_ms, LeaveReason.LEFT, out)
        return None

    def _move(
        self, participant_id: ParticipantId, target: SpaceId, now_ms: int, reason: LeaveReason, out: _Effects
    ) -> None:
        self._unplace(participant_id, now_ms, reason, out)
        self._place(participant_id, target, now_ms, reason, out)

    def _place(
        self,
        participant_id: ParticipantId,
        space_id: SpaceId,
        now_ms: int,
        reason: LeaveReason | None,
        out: _Effects,
    ) -> None:
        space = self._spaces[space_id]
        member = self._members[participant_id]
        space.occupants[participant_id] = Occupant(
            participant_id, now_ms, stage_role=initial_stage_role(space.kind, member.role)
        )
        self._location[participant_id] = space_id
        out.append(SpaceCountChanged(space_id, space.count))
        if space.kind is not SpaceKind.LOBBY:
            out.append(PresenceJoined(space_id, self._entry(participant_id)))
            out.append(Analytics(AnalyticsKind.JOIN, now_ms, participant_id, space_id))
        # The snapshot before the media: a client starts its peer connections afresh when it
        # learns where it is, so a media offer that reached it first would be thrown away with
        # them, and the participant would never get the media of the space.
        out.append(self._snapshot(participant_id, reason))
        if space.kind is not SpaceKind.LOBBY:
            out.append(MediaSubscribe(participant_id, space_id))

    def _unplace(
        self, participant_id: ParticipantId, now_ms: int, reason: LeaveReason, out: _Effects
    ) -> None:
        space_id = self._location.pop(participant_id)
        space = self._spaces[space_id]
        occupant = space.occupants.pop(participant_id)
        self._announced.pop(participant_id, None)
        if space.kind is not SpaceKind.LOBBY:
            for kind in sorted(occupant.published):
                out.append(MediaUnpublish(participant_id, space_id, kind))
            out.append(MediaUnsubscribe(participant_id, space_id))
            if space.spotlight == participant_id:
                space.spotlight = None
                out.append(SpotlightChanged(space_id, None))
            if space.active_speaker == participant_id:
                space.active_speaker = None
                out.append(ActiveSpeakerChanged(space_id, None))
            out.append(PresenceLeft(space_id, participant_id, reason))
            detail = (("reason", reason.value),)
            out.append(Analytics(AnalyticsKind.LEAVE, now_ms, participant_id, space_id, detail=detail))
        out.append(SpaceCountChanged(space_id, space.count))

    def _depart(self, participant_id: ParticipantId, now_ms: int, reason: LeaveReason, out: _Effects) -> None:
        """Take the participant out of the event entirely."""
        self._unplace(participant_id, now_ms, reason, out)
        del self._members[participant_id]
        self._sessions.forget(participant_id)
        self._reactions.forget_participant(participant_id)
        out.append(MediaClosePeer(participant_id))
        detail = (("reason", reason.value),)
        out.append(Analytics(AnalyticsKind.DEPART, now_ms, participant_id, detail=detail))

    # --- media, hands ----------------------------------------------------------------------------------

    def _publish(
        self, actor: ParticipantId, kind: MediaKind, now_ms: int, out: _Effects
    ) -> VenueError | None:
        space_id = self._location[actor]
        space = self._spaces[space_id]
        occupant = space.occupants[actor]
        if kind not in publishable_media(space.kind, occupant.stage_role):
            return _refuse(ErrorCode.PUBLISH_NOT_ALLOWED, f"you may not publish {kind.value} here")
        if kind in occupant.published:
            return _refuse(ErrorCode.ALREADY_PUBLISHED, f"{kind.value} is already published")
        occupant.published.add(kind)
        out.append(MediaAllowPublish(actor, space_id, kind))
        out.append(Analytics(AnalyticsKind.PUBLISH, now_ms, actor, space_id, detail=(("kind", kind.value),)))
        self._announce(actor, out)
        return None

    def _unpublish(
        self, actor: ParticipantId, kind: MediaKind, now_ms: int, out: _Effects
    ) -> VenueError | None:
        space_id = self._location[actor]
        if kind not in self._spaces[space_id].occupants[actor].published:
            return _refuse(ErrorCode.NOT_PUBLISHED, f"{kind.value} is not published")
        self._drop_track(actor, kind, out)
        out.append(
            Analytics(AnalyticsKind.UNPUBLISH, now_ms, actor, space_id, detail=(("kind", kind.value),))
        )
        self._announce(actor, out)
        return None

    def _drop_track(self, participant_id: ParticipantId, kind: MediaKind, out: _Effects) -> None:
        """Stop one published track (no presence announcement: callers announce once)."""
        space_id = self._location[participant_id]
        space = self._spaces[space_id]
        occupant = space.occupants[participant_id]
        occupant.published.discard(kind)
        occupant.muted.discard(kind)
        out.append(MediaUnpublish(participant_id, space_id, kind))
        if space.active_speaker == participant_id and not _speaking(occupant):
            space.active_speaker = None
            out.append(ActiveSpeakerChanged(space_id, None))

    def _set_muted(
        self,
        actor: ParticipantId,
        target: ParticipantId,
        kind: MediaKind,
        *,
        muted: bool,
        now_ms: int,
        out: _Effects,
    ) -> VenueError | None:
        space_id = self._location[target]
        space = self._spaces[space_id]
        occupant = space.occupants[target]
        if kind not in occupant.published:
            return _refuse(ErrorCode.NOT_PUBLISHED, f"{kind.value} is not published")
        if (kind in occupant.muted) == muted:
            return None
        if muted:
            occupant.muted.add(kind)
        else:
            occupant.muted.discard(kind)
        out.append(MediaSetMuted(target, space_id, kind, muted))
        if space.active_speaker == target and not _speaking(occupant):
            space.active_speaker = None
            out.append(ActiveSpeakerChanged(space_id, None))
        analytics_kind = AnalyticsKind.MUTE if muted else AnalyticsKind.UNMUTE
        out.append(Analytics(analytics_kind, now_ms, target, space_id, actor, (("kind", kind.value),)))
        self._announce(target, out)
        return None

    def _set_hand(
        self, actor: ParticipantId, target: ParticipantId, *, raised: bool, now_ms: int, out: _Effects
    ) -> VenueError | None:
        space_id = self._location[target]
        if space_id == LOBBY:
            return _refuse(ErrorCode.NOT_IN_SPACE, "hands are raised inside a space")
        occupant = self._spaces[space_id].occupants[target]
        if (occupant.hand_raised_at_ms is not None) == raised:
            return None
        occupant.hand_raised_at_ms = now_ms if raised else None
        analytics_kind = AnalyticsKind.HAND_RAISED if raised else AnalyticsKind.HAND_LOWERED
        out.append(Analytics(analytics_kind, now_ms, target, space_id, actor))
        self._announce(target, out)
        return None

    # --- organiser controls ----------------------------------------------------------------------------

    def _remove(
        self, actor: ParticipantId, target: ParticipantId, reason: str, now_ms: int, out: _Effects
    ) -> VenueError | None:
        member = self._members.get(target)
        if member is None:
            return _unknown_participant(target)
        if member.is_organiser:
            return _refuse(ErrorCode.TARGET_IS_ORGANISER, "organisers cannot be removed")
        connections = self._sessions.connections_of(target)
        out.append(ParticipantRemoved(target, connections, reason))
        out.append(Analytics(AnalyticsKind.REMOVE, now_ms, target, self._location[target], actor))
        self._removed.add(target)
        self._depart(target, now_ms, LeaveReason.REMOVED, out)
        return None

    def _stage_target(
        self, space_id: SpaceId, target: ParticipantId
    ) -> tuple[SpaceState, Occupant] | VenueError:
        space = self._spaces.get(space_id)
        if space is None:
            return _refuse(ErrorCode.UNKNOWN_SPACE, f"no space {space_id}")
        if space.kind is not SpaceKind.STAGE:
            return _refuse(ErrorCode.INVALID_TARGET, f"{space_id} is not a stage")
        return self._occupant_in(space, target)

    def _occupant_in(
        self, space: SpaceState, target: ParticipantId
    ) -> tuple[SpaceState, Occupant] | VenueError:
        if target not in self._members:
            return _unknown_participant(target)
        occupant = space.occupants.get(target)
        if occupant is None:
            return _refuse(ErrorCode.NOT_IN_SPACE, f"{target} is not in {space.space_id}")
        return space, occupant

    def _change_stage_role(
        self,
        actor: ParticipantId,
        space_id: SpaceId,
        target: ParticipantId,
        *,
        from_roles: tuple[StageRole, ...],
        to_role: StageRole,
        now_ms: int,
        out: _Effects,
    ) -> VenueError | None:
        found = self._stage_target(space_id, target)
        if isinstance(found, VenueError):
            return found
        space, occupant = found
        if occupant.stage_role not in from_roles:
            return _refuse(
                ErrorCode.INVALID_TARGET,
                f"{target} is {occupant.stage_role.value}, not {from_roles[0].value}",
            )
        before = publishable_media(space.kind, occupant.stage_role)
        after = publishable_media(space.kind, to_role)
        occupant.stage_role = to_role
        for kind in sorted(occupant.published - after):
            self._drop_track(target, kind, out)
        if to_role is not StageRole.AUDIENCE:
            occupant.hand_raised_at_ms = None
        if to_role is not StageRole.LIVE and space.spotlight == target:
            space.spotlight = None
            out.append(SpotlightChanged(space_id, None))
        if before != after:
            out.append(PermissionsChanged(target, space_id, after))
        analytics_kind = {
            StageRole.BACKSTAGE: AnalyticsKind.PROMOTE
            if StageRole.AUDIENCE in from_roles
            else AnalyticsKind.BACKSTAGE,
            StageRole.LIVE: AnalyticsKind.GO_LIVE,
            StageRole.AUDIENCE: AnalyticsKind.DEMOTE,
        }[to_role]
        out.append(Analytics(analytics_kind, now_ms, target, space_id, actor))
        self._announce(target, out)
        return None

    def _spotlight(
        self,
        actor: ParticipantId,
        space_id: SpaceId,
        target: ParticipantId | None,
        now_ms: int,
        out: _Effects,
    ) -> VenueError | None:
        space = self._spaces.get(space_id)
        if space is None:
            return _refuse(ErrorCode.UNKNOWN_SPACE, f"no space {space_id}")
        if space.kind is SpaceKind.LOBBY:
            return _refuse(ErrorCode.INVALID_TARGET, "the lobby has no spotlight")
        if target is not None:
            found = self._occupant_in(space, target)
            if isinstance(found, VenueError):
                return found
            if space.kind is SpaceKind.STAGE and found[1].stage_role is not StageRole.LIVE:
                return _refuse(ErrorCode.INVALID_TARGET, "only a live speaker can be spotlit on a stage")
        if space.spotlight == target:
            return None
        space.spotlight = target
        out.append(SpotlightChanged(space_id, target))
        out.append(Analytics(AnalyticsKind.SPOTLIGHT, now_ms, target, space_id, actor))
        return None

    def _lock(
        self, actor: ParticipantId, space_id: SpaceId, locked: bool, now_ms: int, out: _Effects
    ) -> VenueError | None:
        space = self._spaces.get(space_id)
        if space is None:
            return _refuse(ErrorCode.UNKNOWN_SPACE, f"no space {space_id}")
        if space.kind is SpaceKind.LOBBY:
            return _refuse(ErrorCode.INVALID_TARGET, "the lobby cannot be locked")
        if space.ended:
            return _refuse(ErrorCode.SPACE_ENDED, f"space {space_id} has ended")
        if space.locked == locked:
            return None
        space.locked = locked
        out.append(SpaceLockChanged(space_id, locked))
        analytics_kind = AnalyticsKind.LOCK if locked else AnalyticsKind.UNLOCK
        out.append(Analytics(analytics_kind, now_ms, None, space_id, actor))
        return None

    def _end_space(
        self, actor: ParticipantId, space_id: SpaceId, reason: str, now_ms: int, out: _Effects
    ) -> VenueError | None:
        space = self._spaces.get(space_id)
        if space is None:
            return _refuse(ErrorCode.UNKNOWN_SPACE, f"no space {space_id}")
        if space.kind is SpaceKind.LOBBY:
            return _refuse(ErrorCode.INVALID_TARGET, "the lobby cannot be ended")
        if space.ended:
            return _refuse(ErrorCode.SPACE_ENDED, f"space {space_id} has already ended")
        if space_id in self._breakouts:
            self._close_breakouts(actor, space_id, now_ms, out)
        out.append(SpaceEnded(space_id, reason))
        for participant_id in list(space.occupants):
            self._move(participant_id, LOBBY, now_ms, LeaveReason.SPACE_ENDED, out)
        space.ended = True
        if space.locked:
            space.locked = False
            out.append(SpaceLockChanged(space_id, False))
        self._reactions.discard_space(space_id)
        out.append(Analytics(AnalyticsKind.SPACE_ENDED, now_ms, None, space_id, actor, (("reason", reason),)))
        return None

    def _end_event(self, actor: ParticipantId, reason: str, now_ms: int, out: _Effects) -> None:
        out.append(EventEnded(reason))
        for participant_id in list(self._members):
            space_id = self._location[participant_id]
            self._spaces[space_id].occupants.clear()
            out.append(MediaClosePeer(participant_id))
            out.append(
                Analytics(AnalyticsKind.DEPART, now_ms, participant_id, detail=(("reason", "event_ended"),))
            )
            self._sessions.forget(participant_id)
        for space in self._spaces.values():
            space.occupants.clear()
            space.spotlight = None
            space.active_speaker = None
            if space.kind is not SpaceKind.LOBBY:
                space.ended = True
            self._reactions.discard_space(space.space_id)
        self._members.clear()
        self._location.clear()
        self._announced.clear()
        self._breakouts.clear()
        self._ended = True
        out.append(Analytics(AnalyticsKind.EVENT_ENDED, now_ms, None, None, actor, (("reason", reason),)))

    # --- breakouts -------------------------------------------------------------------------------------

    def _open_breakouts(
        self, actor: ParticipantId, payload: OpenBreakouts, now_ms: int, out: _Effects
    ) -> VenueError | None:
        origin_id = payload.space_id
        origin = self._breakout_origin(origin_id)
        if isinstance(origin, VenueError):
            return origin
        eligible = [pid for pid in origin.occupants if not self._members[pid].is_organiser]
        if not eligible:
            return _refuse(ErrorCode.INVALID_BREAKOUT_PLAN, "nobody in this space to send to breakouts")
        if payload.mode is BreakoutMode.BY_TEAM:
            assignment = self._plan_by_team(eligible)
            if not assignment:
                return _refuse(ErrorCode.INVALID_BREAKOUT_PLAN, "no attendee here has a team room with room")
            session = BreakoutSession(
                origin_id, tuple(sorted(set(assignment.values()))), frozenset(), assignment
            )
        else:
            groups = self._plan_groups(payload, eligible)
            if isinstance(groups, VenueError):
                return groups
            session = self._create_breakout_rooms(origin, groups)
        self._breakouts[origin_id] = session
        rooms = tuple(
            BreakoutRoom(room_id, tuple(pid for pid, room in session.assigned.items() if room == room_id))
            for room_id in session.room_ids
        )
        out.append(BreakoutsOpened(origin_id, payload.mode, rooms))
        for participant_id, room_id in session.assigned.items():
            self._move(participant_id, room_id, now_ms, LeaveReason.BREAKOUT, out)
        detail = (("mode", payload.mode.value), ("rooms", str(len(session.room_ids))))
        out.append(Analytics(AnalyticsKind.BREAKOUTS_OPENED, now_ms, None, origin_id, actor, detail))
        return None

    def _breakout_origin(self, origin_id: SpaceId) -> SpaceState | VenueError:
        origin = self._spaces.get(origin_id)
        if origin is None:
            return _refuse(ErrorCode.UNKNOWN_SPACE, f"no space {origin_id}")
        if origin.kind in (SpaceKind.LOBBY, SpaceKind.BREAKOUT):
            return _refuse(ErrorCode.INVALID_TARGET, "breakouts open from a stage, room or team room")
        if origin.ended:
            return _refuse(ErrorCode.SPACE_ENDED, f"space {origin_id} has ended")
        if origin_id in self._breakouts:
            return _refuse(ErrorCode.BREAKOUTS_OPEN, "this space already has open breakouts")
        return origin

    @staticmethod
    def _plan_groups(
        payload: OpenBreakouts, eligible: list[ParticipantId]
    ) -> list[list[ParticipantId]] | VenueError:
        if payload.mode is BreakoutMode.MANUAL:
            groups = [list(group) for group in payload.groups]
            refusal = check_manual_groups(groups, frozenset(eligible))
            return groups if refusal is None else refusal
        if payload.group_size is None:
            return _refuse(ErrorCode.INVALID_BREAKOUT_PLAN, "groups mode needs group_size")
        return split_into_groups(eligible, payload.group_size)

    def _create_breakout_rooms(
        self, origin: SpaceState, groups: list[list[ParticipantId]]
    ) -> BreakoutSession:
        """One temporary room per group, as large as the origin, open to its group and organisers."""
        capacity = origin.config.capacity
        assignment: dict[ParticipantId, SpaceId] = {}
        room_ids: list[SpaceId] = []
        for index, group in enumerate(groups, start=1):
            room_id = breakout_room_id(origin.space_id, index)
            config = SpaceConfig(room_id, SpaceKind.BREAKOUT, capacity, title=f"Breakout {index}")
            self._spaces[room_id] = SpaceState(
                config, allowed=frozenset(group), breakout_origin=origin.space_id
            )
            assignment.update(dict.fromkeys(group, room_id))
            room_ids.append(room_id)
        return BreakoutSession(origin.space_id, tuple(room_ids), frozenset(room_ids), assignment)

    def _plan_by_team(self, eligible: list[ParticipantId]) -> dict[ParticipantId, SpaceId]:
        team_room_of: dict[TeamId, SpaceId] = {}
        for space in self._spaces.values():
            team_id = space.config.team_id
            if team_id is not None and not space.ended and team_id not in team_room_of:
                team_room_of[team_id] = space.space_id
        wanted = assign_by_team(eligible, {pid: self._members[pid].teams for pid in eligible}, team_room_of)
        free_seats = {
            room_id: (self._spaces[room_id].config.capacity or 0) - self._spaces[room_id].count
            for room_id in set(wanted.values())
        }
        assignment: dict[ParticipantId, SpaceId] = {}
        for participant_id, room_id in wanted.items():
            if free_seats[room_id] > 0:
                free_seats[room_id] -= 1
                assignment[participant_id] = room_id
        return assignment

    def _close_breakouts(self, actor: ParticipantId, origin_id: SpaceId, now_ms: int, out: _Effects) -> None:
        session = self._breakouts.pop(origin_id)
        origin = self._spaces[origin_id]
        returning: list[ParticipantId] = []
        for room_id in session.room_ids:
            for participant_id in self._spaces[room_id].occupants:
                if room_id in session.temporary_room_ids or session.assigned.get(participant_id) == room_id:
                    returning.append(participant_id)
        for participant_id in returning:
            member = self._members[participant_id]
            back_home = not origin.ended and not origin.is_full and may_stay(member, origin)
            target = origin_id if back_home else LOBBY
            self._move(participant_id, target, now_ms, LeaveReason.BREAKOUT_CLOSED, out)
        for room_id in sorted(session.temporary_room_ids):
            self._reactions.discard_space(room_id)
            del self._spaces[room_id]
        out.append(BreakoutsClosed(origin_id, session.room_ids))
        out.append(Analytics(AnalyticsKind.BREAKOUTS_CLOSED, now_ms, None, origin_id, actor))

    # --- presence --------------------------------------------------------------------------------------

    def presence_entry(self, participant_id: ParticipantId) -> PresenceEntry:
        """What others see of the participant now, computed from the live state."""
        member = self._members[participant_id]
        occupant = self._spaces[self._location[participant_id]].occupants[participant_id]
        return PresenceEntry(
            participant_id=participant_id,
            display_name=member.display_name,
            role=member.role,
            stage_role=occupant.stage_role,
            published=frozenset(occupant.published),
            muted=frozenset(occupant.muted),
            hand_raised=occupant.hand_raised_at_ms is not None,
            connected=self._sessions.is_online(participant_id),
        )

    def _entry(self, participant_id: ParticipantId) -> PresenceEntry:
        """The fresh entry, remembered as the last one announced (snapshots reuse it)."""
        entry = self.presence_entry(participant_id)
        self._announced[participant_id] = entry
        return entry

    def venue_map(self) -> tuple[SpaceSummary, ...]:
        """Every space with its live count and lock state, for a client that has just connected;
        ``SpaceCountChanged`` and the breakout effects keep it current afterwards."""
        return tuple(
            SpaceSummary(
                space_id=space.space_id,
                kind=space.kind,
                title=space.config.title,
                capacity=space.config.capacity,
                count=space.count,
                locked=space.locked,
                ended=space.ended,
                team_id=space.config.team_id,
                breakout_origin=space.breakout_origin,
            )
            for space in self._spaces.values()
        )

    def _announce(self, participant_id: ParticipantId, out: _Effects) -> None:
        space_id = self._location[participant_id]
        if space_id != LOBBY:
            out.append(PresenceUpdated(space_id, self._entry(participant_id)))

    def _snapshot(self, participant_id: ParticipantId, reason: LeaveReason | None) -> SpaceSnapshot:
        space = self._spaces[self._location[participant_id]]
        occupant = space.occupants[participant_id]
        occupants = (
            () if space.kind is SpaceKind.LOBBY else tuple(self._announced[pid] for pid in space.occupants)
        )
        return SpaceSnapshot(
            participant_id=participant_id,
            space_id=space.space_id,
            kind=space.kind,
            reason=reason,
            occupants=occupants,
            locked=space.locked,
            spotlight=space.spotlight,
            active_speaker=space.active_speaker,
            may_publish=publishable_media(space.kind, occupant.stage_role),
        )


def _speaking(occupant: Occupant) -> bool:
    return MediaKind.MICROPHONE in occupant.published and MediaKind.MICROPHONE not in occupant.muted


def _unknown_participant(participant_id: ParticipantId) -> VenueError:
    return _refuse(ErrorCode.UNKNOWN_PARTICIPANT, f"{participant_id} is not in this event")
