"""Media over the signalling socket: the venue's media effects and ``media_*`` events to media nodes.

The venue decides who may publish what and who subscribes to which space (media effects);
this bridge carries that out on the node hosting the space (a :class:`NodeDirectory` says
which), for participants whose sockets this instance holds:

- a participant who enters a space is added to the node's copy of it and subscribed to every
  track there; the node offers, the bridge sends ``media_offer``, the client answers with
  ``media_answer``. One negotiation per participant at a time; changes that arrive meanwhile
  are folded into one follow-up offer;
- a participant publishes with ``media_publish {sdp, kinds: {mid: camera|microphone|screen}}``:
  every sending m-section must be labelled with a kind the venue has allowed them; the node
  keeps the labels, so every signalling instance describes the tracks the same way;
- tracks published by others are subscribed to as the node reports them (its events arrive
  in process, or over Redis from a remote node);
- when the space moves to another node (its node died), the participant is added there and
  told ``media_reset``: the client drops both peer connections, publishes again, and receives
  new offers.

Node spaces are named ``<event>/<space>`` so spaces of different events never meet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from prometheus_client import Counter, Gauge

from sfu.node import SfuError, SfuErrorCode, SfuEvent, TrackInfo
from signalling import effects as fx
from signalling.gateway import Connection, Gateway, GatewayError
from signalling.ids import ConnectionId, EventId, ParticipantId, SpaceId
from signalling.kinds import MediaKind
from signalling.media_nodes import NodeDirectory
from signalling.node_events import SpaceMoved

log = logging.getLogger(__name__)

MEDIA_PREFIX: Final = "media_"
MAX_SDP_CHARS: Final = 64 * 1024
RESET_EVENT: Final = "media_reset"

NEGOTIATIONS = Counter("venuekit_signal_media_offers_total", "Subscriber offers sent to clients")
MEDIA_ERRORS = Counter("venuekit_signal_media_errors_total", "Media requests refused", ["code"])
MEDIA_RESETS = Counter(
    "venuekit_signal_media_resets_total", "Clients told to renegotiate because their space moved node"
)
STRANDED = Gauge(
    "venuekit_signal_media_stranded_participants",
    "Participants in a space whose media node could not be reached yet (retried every second)",
)
STRANDED_RETRY_S: Final = 1.0

SpeakerObserver = Callable[[EventId, SpaceId, ParticipantId | None], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MediaSection:
    kind: str
    mid: str | None
    sends: bool


def media_sections(sdp: str) -> list[MediaSection]:
    """The m-sections of an SDP with their mid and whether the offerer sends (RFC 8866 s. 5.14)."""
    sections: list[MediaSection] = []
    kind: str | None = None
    mid: str | None = None
    direction = "sendrecv"

    def close() -> None:
        if kind is not None:
            sections.append(MediaSection(kind, mid, direction in ("sendrecv", "sendonly")))

    for line in sdp.splitlines():
        if line.startswith("m="):
            close()
            kind, mid, direction = line[2:].split(" ", 1)[0], None, "sendrecv"
        elif kind is not None and line.startswith("a=mid:"):
            mid = line[6:].strip()
        elif kind is not None and line[2:].strip() in ("sendrecv", "sendonly", "recvonly", "inactive"):
            direction = line[2:].strip()
    close()
    return sections


_COMPATIBLE: Final = {
    MediaKind.MICROPHONE: "audio",
    MediaKind.CAMERA: "video",
    MediaKind.SCREEN: "video",
}


@dataclass(slots=True)
class _Peer:
    event_id: EventId
    participant_id: ParticipantId
    space_id: SpaceId | None = None
    allowed: set[MediaKind] = field(default_factory=set)
    sids: tuple[str, ...] = ()
    negotiating: bool = False
    pending: bool = False

    @property
    def node_space(self) -> str | None:
        return None if self.space_id is None else f"{self.event_id}/{self.space_id}"


def _refuse(code: str, message: str) -> GatewayError:
    MEDIA_ERRORS.labels(code).inc()
    return GatewayError(code, message)


def _kind_of(track: TrackInfo) -> str:
    return track.label or track.kind


class MediaBridge:
    """The runtime's :class:`~signalling.runtime.MediaPort` and the handler of ``media_*`` events."""

    def __init__(self, nodes: NodeDirectory, gateway: Gateway, on_active_speaker: SpeakerObserver) -> None:
        self._nodes = nodes
        self._gateway = gateway
        self._on_active_speaker = on_active_speaker
        self._peers: dict[tuple[EventId, ParticipantId], _Peer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stranded: set[tuple[EventId, ParticipantId]] = set()
        self._retrying: asyncio.Task[None] | None = None

    def _strand(self, peer: _Peer) -> None:
        """No media node answered for the participant's space (none is up yet, or the placement
        pointed at a node that just died): try again every second until one does."""
        self._stranded.add((peer.event_id, peer.participant_id))
        STRANDED.set(len(self._stranded))
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.create_task(self._retry_stranded(), name="media-stranded-retry")
            self._tasks.add(self._retrying)
            self._retrying.add_done_callback(self._tasks.discard)

    async def _retry_stranded(self) -> None:
        while self._stranded:
            await asyncio.sleep(STRANDED_RETRY_S)
            for key in sorted(self._stranded):
                peer = self._peers.get(key)
                if peer is None or peer.node_space is None or not peer.sids:
                    self._stranded.discard(key)
                    continue
                try:
                    await self._join_node(peer, reset=True)  # the client publishes again after the reset
                except SfuError as exc:
                    self._node_failed(peer.node_space, exc)
                    continue
                self._stranded.discard(key)
            STRANDED.set(len(self._stranded))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Awaitable[None], name: str, space: str | None = None) -> None:
        async def run() -> None:
            try:
                await coro
            except SfuError as exc:
                self._node_failed(space, exc)
                log.info("%s: %s", name, exc)
            except GatewayError as exc:
                log.info("%s: %s", name, exc.message)

        task = asyncio.create_task(run(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _node_failed(self, space: str | None, exc: SfuError) -> None:
        if space is not None and exc.code == SfuErrorCode.NODE_UNREACHABLE:
            self._nodes.forget(space)

    def _peer(self, event_id: EventId, participant_id: ParticipantId) -> _Peer:
        key = (event_id, participant_id)
        peer = self._peers.get(key)
        if peer is None:
            peer = self._peers[key] = _Peer(event_id, participant_id)
        return peer

    def _local_peers(self, node_space: str) -> list[_Peer]:
        return [p for p in self._peers.values() if p.node_space == node_space and p.sids]

    # --- MediaPort: effects of the venue ------------------------------------------------------

    async def apply(
        self, effect: fx.MediaEffect, connections: tuple[ConnectionId, ...], event_id: EventId
    ) -> None:
        peer = self._peer(event_id, effect.participant_id)
        peer.sids = tuple(c.split("/", 1)[1] for c in connections)
        space = peer.node_space
        try:
            match effect:
                case fx.MediaSubscribe(space_id=space_id):
                    await self._enter(peer, space_id)
                case fx.MediaUnsubscribe() | fx.MediaClosePeer():
                    await self._leave(peer)
                case fx.MediaAllowPublish(kind=kind):
                    peer.allowed.add(kind)
                case fx.MediaUnpublish(kind=kind):
                    peer.allowed.discard(kind)
                    for track in await self._own_tracks(peer, kind):
                        node = await self._nodes.node_for(track.space)
                        await node.unpublish(track.space, peer.participant_id, track.info.track_id)
                case fx.MediaSetMuted(kind=kind, muted=muted):
                    for track in await self._own_tracks(peer, kind):
                        node = await self._nodes.node_for(track.space)
                        await node.set_muted(track.space, peer.participant_id, track.info.track_id, muted)
        except SfuError as exc:
            self._node_failed(peer.node_space or space, exc)
            log.warning("media effect %s for %s failed: %s", type(effect).__name__, peer.participant_id, exc)
            if isinstance(effect, fx.MediaSubscribe) and exc.code == SfuErrorCode.NODE_UNREACHABLE:
                self._strand(peer)

    async def _own_tracks(self, peer: _Peer, kind: MediaKind) -> list[_OwnTrack]:
        space = peer.node_space
        if space is None:
            return []
        node = await self._nodes.node_for(space)
        try:
            tracks = await node.tracks(space)
        except SfuError as exc:
            if exc.code == SfuErrorCode.UNKNOWN_SPACE:
                return []
            raise
        return [
            _OwnTrack(space, t)
            for t in tracks
            if t.participant_id == peer.participant_id and t.label == kind.value
        ]

    async def _enter(self, peer: _Peer, space_id: SpaceId) -> None:
        """Give the participant fresh peer connections in ``space_id``.

        Also when they are there already: this effect comes again when a participant returns
        (a reconnect, a second tab, another signalling instance), and a client starts new
        connections whenever it is told where it is, so the node's old ones would be left
        talking to nobody.
        """
        await self._leave(peer)
        peer.space_id = space_id
        await self._join_node(peer, reset=False)

    async def _join_node(self, peer: _Peer, *, reset: bool) -> None:
        """Add the participant to the node hosting their space and subscribe them to its tracks.

        With ``reset`` (the space has just moved), the client is told ``media_reset`` once it
        can publish on the new node and before any offer from it."""
        space = peer.node_space
        if space is None:
            return
        node = await self._nodes.node_for(space)
        try:
            await node.create_space(space)
        except SfuError as exc:
            if exc.code != SfuErrorCode.SPACE_EXISTS:  # another participant created it meanwhile
                raise
        try:
            await node.add_participant(space, peer.participant_id)
        except SfuError as exc:
            if exc.code != SfuErrorCode.PARTICIPANT_EXISTS:
                raise
            # left there by a signalling instance that died, or a socket that came back
            await node.remove_participant(space, peer.participant_id)
            await node.add_participant(space, peer.participant_id)
        if reset:
            MEDIA_RESETS.inc()
            for sid in peer.sids:
                await self._gateway.emit(RESET_EVENT, {"reason": "node_moved"}, to=sid)
        needs_offer = False
        for track in await node.tracks(space):
            if track.participant_id != peer.participant_id:
                needs_offer |= await node.subscribe(space, peer.participant_id, track.track_id)
        if needs_offer:
            self._spawn(self._negotiate(peer), f"negotiate-{peer.participant_id}", space)

    async def _leave(self, peer: _Peer) -> None:
        space = peer.node_space
        peer.space_id, peer.negotiating, peer.pending = None, False, False
        if space is None:
            return
        try:
            node = await self._nodes.node_for(space)
            await node.remove_participant(space, peer.participant_id)
        except SfuError as exc:
            if exc.code not in (
                SfuErrorCode.UNKNOWN_SPACE,
                SfuErrorCode.UNKNOWN_PARTICIPANT,
                SfuErrorCode.NODE_UNREACHABLE,  # a dead node has forgotten them already
            ):
                raise
            self._node_failed(space, exc)

    async def _negotiate(self, peer: _Peer) -> None:
        if peer.negotiating:
            peer.pending = True
            return
        space = peer.node_space
        if space is None:
            return
        peer.negotiating, peer.pending = True, False
        try:
            node = await self._nodes.node_for(space)
            offer = await node.subscriber_offer(space, peer.participant_id)
            tracks = {t.track_id: t for t in await node.tracks(space)}
        except SfuError:
            peer.negotiating = False
            raise
        described = [
            {
                "track_id": track_id,
                "mid": mid,
                "participant_id": tracks[track_id].participant_id if track_id in tracks else None,
                "kind": _kind_of(tracks[track_id]) if track_id in tracks else None,
            }
            for track_id, mid in offer.mids.items()
        ]
        NEGOTIATIONS.inc()
        for sid in peer.sids:
            await self._gateway.emit("media_offer", {"sdp": offer.sdp, "tracks": described}, to=sid)

    # --- node events and moves ----------------------------------------------------------------

    def on_sfu_event(self, event: SfuEvent, node_id: str = "local") -> None:
        """A node's event (synchronous callback): work is scheduled on owned tasks."""
        known = self._nodes.node_id_of(event.space_id)
        if known is not None and known != node_id:
            return  # from a node the space has left
        self._spawn(self._handle_sfu_event(event), f"sfu-{event.type}", event.space_id)

    def on_node_message(self, message: tuple[str, SfuEvent] | SpaceMoved) -> None:
        """A message of the node event channel (:mod:`signalling.node_events`)."""
        if isinstance(message, SpaceMoved):
            self._spawn(self._nodes_moved(message), f"moved-{message.space}", None)
        else:
            node_id, event = message
            if self._local_peers(event.space_id):
                self.on_sfu_event(event, node_id)

    async def _nodes_moved(self, move: SpaceMoved) -> None:
        await self._nodes.on_moved(move)

    async def space_moved(self, space: str) -> None:
        """The space now lives on another node: renegotiate its participants connected here."""
        for peer in self._local_peers(space):
            peer.negotiating, peer.pending = False, False
            self._spawn(self._join_node(peer, reset=True), f"rejoin-{peer.participant_id}", space)

    async def _handle_sfu_event(self, event: SfuEvent) -> None:
        event_id, _, space_id = event.space_id.partition("/")
        if event.type == "track_published" and event.track_id is not None:
            node = await self._nodes.node_for(event.space_id)
            for peer in self._local_peers(event.space_id):
                if peer.participant_id == event.participant_id:
                    continue
                try:
                    needs_offer = await node.subscribe(event.space_id, peer.participant_id, event.track_id)
                except SfuError as exc:
                    if exc.code in (SfuErrorCode.ALREADY_SUBSCRIBED, SfuErrorCode.UNKNOWN_PARTICIPANT):
                        continue
                    raise
                if needs_offer:
                    await self._negotiate(peer)
        elif event.type == "renegotiation_needed" and event.participant_id is not None:
            found = self._peers.get((EventId(event_id), ParticipantId(event.participant_id)))
            if found is not None and found.node_space == event.space_id and found.sids:
                await self._negotiate(found)
        elif event.type == "active_speaker":
            who = ParticipantId(event.participant_id) if event.participant_id else None
            # one instance reports a speaker (the one holding their socket); silence is idempotent
            if who is None or self._peers.get((EventId(event_id), who)) is not None:
                await self._on_active_speaker(EventId(event_id), SpaceId(space_id), who)

    # --- client events ------------------------------------------------------------------------

    async def event(self, conn: Connection, name: str, payload: Any) -> Any:
        member = conn.admitted.member
        peer = self._peers.get((member.event_id, member.participant_id))
        if peer is None or peer.node_space is None:
            raise _refuse("not_in_space", "enter a space before sending media")
        if not isinstance(payload, dict):
            raise _refuse("invalid_payload", "payload must be a JSON object")
        space = peer.node_space
        try:
            if name == "media_publish":
                return await self._publish(peer, payload)
            if name == "media_answer":
                sdp = _sdp_field(payload)
                node = await self._nodes.node_for(space)
                try:
                    await node.subscriber_answer(space, peer.participant_id, sdp)
                finally:
                    peer.negotiating = False
                if peer.pending:
                    await self._negotiate(peer)
                return None
            if name == "media_pause":
                track_ids, paused = _pause_fields(payload)
                node = await self._nodes.node_for(space)
                for track_id in track_ids:
                    await node.set_paused(space, peer.participant_id, track_id, paused)
                return None
        except SfuError as exc:
            self._node_failed(space, exc)
            raise _refuse(str(exc.code), exc.message) from None
        raise _refuse("unknown_event", f"unknown event {name[:64]!r}")

    async def _publish(self, peer: _Peer, payload: dict[str, Any]) -> Any:
        sdp = _sdp_field(payload)
        kinds = payload.get("kinds")
        if set(payload) - {"sdp", "kinds"} or not isinstance(kinds, dict):
            raise _refuse("invalid_payload", "expected {sdp, kinds: {mid: camera|microphone|screen}}")
        labelled: dict[str, MediaKind] = {}
        for mid, raw in kinds.items():
            try:
                labelled[mid] = MediaKind(raw)
            except ValueError:
                raise _refuse(
                    "invalid_payload", f"kinds[{mid!r}] must be camera, microphone or screen"
                ) from None
        for section in media_sections(sdp):
            if not section.sends or section.kind not in ("audio", "video"):
                continue
            kind = labelled.get(section.mid or "")
            if kind is None or _COMPATIBLE[kind] != section.kind:
                raise _refuse(
                    "invalid_payload", f"label the {section.kind} m-section {section.mid!r} with its kind"
                )
            if kind not in peer.allowed:
                raise _refuse(
                    "publish_not_allowed", f"send 'publish {{kind: {kind.value}}}' first; it may be refused"
                )
        space = peer.node_space
        assert space is not None
        node = await self._nodes.node_for(space)
        labels = {mid: kind.value for mid, kind in labelled.items() if len(mid) <= 64}
        answer = await node.publish(space, peer.participant_id, sdp, labels)
        return {
            "sdp": answer.sdp,
            "tracks": [{"track_id": t.track_id, "mid": t.mid, "kind": _kind_of(t)} for t in answer.tracks],
        }


@dataclass(frozen=True, slots=True)
class _OwnTrack:
    space: str
    info: TrackInfo


MAX_PAUSE_TRACKS: Final = 64


def _pause_fields(payload: dict[str, Any]) -> tuple[list[str], bool]:
    track_ids, paused = payload.get("track_ids"), payload.get("paused")
    if (
        set(payload) != {"track_ids", "paused"}
        or not isinstance(paused, bool)
        or not isinstance(track_ids, list)
        or not 1 <= len(track_ids) <= MAX_PAUSE_TRACKS
        or not all(isinstance(t, str) and 0 < len(t) <= 128 for t in track_ids)
    ):
        raise _refuse(
            "invalid_payload",
            f"expected {{track_ids: [1 to {MAX_PAUSE_TRACKS} track ids], paused: true or false}}",
        )
    return list(dict.fromkeys(track_ids)), paused


def _sdp_field(payload: dict[str, Any]) -> str:
    sdp = payload.get("sdp")
    if not isinstance(sdp, str) or not sdp or len(sdp) > MAX_SDP_CHARS:
        raise _refuse(
            "invalid_payload", f"sdp must be a non-empty string of at most {MAX_SDP_CHARS} characters"
        )
    return sdp
