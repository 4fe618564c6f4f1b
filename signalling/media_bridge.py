"""Media over the signalling socket: the venue's media effects and ``media_*`` events to a media node.

The venue decides who may publish what and who subscribes to which space (media effects);
this bridge carries that out on the node hosting the space, for participants whose sockets
this instance holds:

- a participant who enters a space is added to the node's copy of it and subscribed to every
  track there; the node offers, the bridge sends ``media_offer``, the client answers with
  ``media_answer``. One negotiation per participant at a time; changes that arrive meanwhile
  are folded into one follow-up offer;
- a participant publishes with ``media_publish {sdp, kinds: {mid: camera|microphone|screen}}``:
  every sending m-section must be labelled with a kind the venue has allowed them;
- tracks published by others are subscribed to as the node reports them.

Node spaces are named ``<event>/<space>`` so spaces of different events never meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from prometheus_client import Counter

from sfu.node import PublishAnswer, SfuError, SfuEvent, SubscriberOffer, TrackInfo
from signalling import effects as fx
from signalling.gateway import Connection, Gateway, GatewayError
from signalling.ids import ConnectionId, EventId, ParticipantId, SpaceId
from signalling.kinds import MediaKind

log = logging.getLogger(__name__)

MEDIA_PREFIX: Final = "media_"
MAX_SDP_CHARS: Final = 64 * 1024

NEGOTIATIONS = Counter("venuekit_signal_media_offers_total", "Subscriber offers sent to clients")
MEDIA_ERRORS = Counter("venuekit_signal_media_errors_total", "Media requests refused", ["code"])

SpeakerObserver = Callable[[EventId, SpaceId, ParticipantId | None], Awaitable[None]]


class MediaNode(Protocol):
    """What signalling asks of a media node (``sfu.node.SfuNode`` in process)."""

    async def create_space(self, space_id: str) -> None: ...
    def spaces(self) -> list[str]: ...
    async def add_participant(self, space_id: str, participant_id: str) -> None: ...
    async def remove_participant(self, space_id: str, participant_id: str) -> None: ...
    def participants(self, space_id: str) -> list[str]: ...
    async def publish(self, space_id: str, participant_id: str, offer_sdp: str) -> PublishAnswer: ...
    async def unpublish(self, space_id: str, participant_id: str, track_id: str) -> None: ...
    def set_muted(self, space_id: str, participant_id: str, track_id: str, muted: bool) -> None: ...
    def tracks(self, space_id: str) -> list[TrackInfo]: ...
    async def subscribe(self, space_id: str, participant_id: str, track_id: str) -> bool: ...
    async def subscriber_offer(self, space_id: str, participant_id: str) -> SubscriberOffer: ...
    async def subscriber_answer(self, space_id: str, participant_id: str, answer_sdp: str) -> None: ...


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


class MediaBridge:
    """The runtime's :class:`~signalling.runtime.MediaPort` and the handler of ``media_*`` events."""

    def __init__(self, node: MediaNode, gateway: Gateway, on_active_speaker: SpeakerObserver) -> None:
        self._node = node
        self._gateway = gateway
        self._on_active_speaker = on_active_speaker
        self._peers: dict[tuple[EventId, ParticipantId], _Peer] = {}
        self._track_kinds: dict[str, MediaKind] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        async def run() -> None:
            try:
                await coro
            except SfuError as exc:
                log.info("%s: %s", name, exc)
            except GatewayError as exc:
                log.info("%s: %s", name, exc.message)

        task = asyncio.create_task(run(), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _peer(self, event_id: EventId, participant_id: ParticipantId) -> _Peer:
        key = (event_id, participant_id)
        peer = self._peers.get(key)
        if peer is None:
            peer = self._peers[key] = _Peer(event_id, participant_id)
        return peer

    # --- MediaPort: effects of the venue ------------------------------------------------------

    async def apply(
        self, effect: fx.MediaEffect, connections: tuple[ConnectionId, ...], event_id: EventId
    ) -> None:
        peer = self._peer(event_id, effect.participant_id)
        peer.sids = tuple(c.split("/", 1)[1] for c in connections)
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
                    for track in self._own_tracks(peer, kind):
                        await self._node.unpublish(peer.node_space or "", peer.participant_id, track.track_id)
                case fx.MediaSetMuted(kind=kind, muted=muted):
                    for track in self._own_tracks(peer, kind):
                        self._node.set_muted(
                            peer.node_space or "", peer.participant_id, track.track_id, muted
                        )
        except SfuError as exc:
            log.warning("media effect %s for %s failed: %s", type(effect).__name__, peer.participant_id, exc)

    def _own_tracks(self, peer: _Peer, kind: MediaKind) -> list[TrackInfo]:
        if peer.node_space is None or peer.node_space not in self._node.spaces():
            return []
        return [
            t
            for t in self._node.tracks(peer.node_space)
            if t.participant_id == peer.participant_id and self._track_kinds.get(t.track_id) == kind
        ]

    async def _enter(self, peer: _Peer, space_id: SpaceId) -> None:
        """Give the participant fresh peer connections in ``space_id``.

        Also when they are there already: this effect comes again when a participant returns
        (a reconnect, a second tab), and a client starts new connections whenever it is told
        where it is, so the node's old ones would be left talking to nobody.
        """
        await self._leave(peer)
        peer.space_id = space_id
        node_space = peer.node_space
        assert node_space is not None
        if node_space not in self._node.spaces():
            with contextlib.suppress(SfuError):  # another participant created it meanwhile
                await self._node.create_space(node_space)
        await self._node.add_participant(node_space, peer.participant_id)
        needs_offer = False
        for track in self._node.tracks(node_space):
            if track.participant_id != peer.participant_id:
                needs_offer |= await self._node.subscribe(node_space, peer.participant_id, track.track_id)
        if needs_offer:
            self._spawn(self._negotiate(peer), f"negotiate-{peer.participant_id}")

    async def _leave(self, peer: _Peer) -> None:
        node_space = peer.node_space
        peer.space_id, peer.negotiating, peer.pending = None, False, False
        if node_space is None or node_space not in self._node.spaces():
            return
        if peer.participant_id in self._node.participants(node_space):
            await self._node.remove_participant(node_space, peer.participant_id)

    async def _negotiate(self, peer: _Peer) -> None:
        if peer.negotiating:
            peer.pending = True
            return
        node_space = peer.node_space
        if node_space is None:
            return
        peer.negotiating, peer.pending = True, False
        offer = await self._node.subscriber_offer(node_space, peer.participant_id)
        tracks = {t.track_id: t for t in self._node.tracks(node_space)}
        described = [
            {
                "track_id": track_id,
                "mid": mid,
                "participant_id": tracks[track_id].participant_id if track_id in tracks else None,
                "kind": self._track_kinds.get(
                    track_id, tracks[track_id].kind if track_id in tracks else None
                ),
            }
            for track_id, mid in offer.mids.items()
        ]
        NEGOTIATIONS.inc()
        for sid in peer.sids:
            await self._gateway.emit("media_offer", {"sdp": offer.sdp, "tracks": described}, to=sid)

    # --- SFU node events ----------------------------------------------------------------------

    def on_sfu_event(self, event: SfuEvent) -> None:
        """The node's callback (synchronous): work is scheduled on owned tasks."""
        self._spawn(self._handle_sfu_event(event), f"sfu-{event.type}")

    async def _handle_sfu_event(self, event: SfuEvent) -> None:
        event_id, _, space_id = event.space_id.partition("/")
        if event.type == "track_published" and event.track_id is not None:
            for peer in list(self._peers.values()):
                if peer.node_space != event.space_id or peer.participant_id == event.participant_id:
                    continue
                if await self._node.subscribe(event.space_id, peer.participant_id, event.track_id):
                    await self._negotiate(peer)
        elif event.type == "renegotiation_needed" and event.participant_id is not None:
            found = self._peers.get((EventId(event_id), ParticipantId(event.participant_id)))
            if found is not None and found.node_space == event.space_id:
                await self._negotiate(found)
        elif event.type == "active_speaker":
            who = ParticipantId(event.participant_id) if event.participant_id else None
            await self._on_active_speaker(EventId(event_id), SpaceId(space_id), who)

    # --- client events ------------------------------------------------------------------------

    async def event(self, conn: Connection, name: str, payload: Any) -> Any:
        member = conn.admitted.member
        peer = self._peers.get((member.event_id, member.participant_id))
        if peer is None or peer.node_space is None:
            raise _refuse("not_in_space", "enter a space before sending media")
        if not isinstance(payload, dict):
            raise _refuse("invalid_payload", "payload must be a JSON object")
        try:
            if name == "media_publish":
                return await self._publish(peer, payload)
            if name == "media_answer":
                sdp = _sdp_field(payload)
                await self._node.subscriber_answer(peer.node_space, peer.participant_id, sdp)
                peer.negotiating = False
                if peer.pending:
                    await self._negotiate(peer)
                return None
        except SfuError as exc:
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
        node_space = peer.node_space
        assert node_space is not None
        answer = await self._node.publish(node_space, peer.participant_id, sdp)
        for track in answer.tracks:
            if track.mid in labelled:
                self._track_kinds[track.track_id] = labelled[track.mid]
        return {
            "sdp": answer.sdp,
            "tracks": [
                {"track_id": t.track_id, "mid": t.mid, "kind": self._track_kinds.get(t.track_id, t.kind)}
                for t in answer.tracks
            ],
        }


def _sdp_field(payload: dict[str, Any]) -> str:
    sdp = payload.get("sdp")
    if not isinstance(sdp, str) or not sdp or len(sdp) > MAX_SDP_CHARS:
        raise _refuse(
            "invalid_payload", f"sdp must be a non-empty string of at most {MAX_SDP_CHARS} characters"
        )
    return sdp
