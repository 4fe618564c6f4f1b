"""The media node: the API signalling calls to run spaces of publishers and subscribers.

Each participant of a space has up to two peer connections with the node:

- **publish**: the participant offers (their tracks, ``sendonly`` or ``sendrecv``), the node
  answers ``recvonly``. Every m-section that sends becomes a published track with id
  ``"<participant>:<mid>"``. A later offer on the same connection adds or removes tracks.
- **subscribe**: the node offers, the participant answers. :meth:`SfuNode.subscribe` adds a
  ``sendonly`` m-section for the track (offering only the publisher's codec) and says a new
  offer is needed; :meth:`SfuNode.subscriber_offer` makes it and reports which ``mid`` carries
  which track; :meth:`SfuNode.subscriber_answer` applies the answer. An unsubscribed m-section
  goes ``inactive`` and is reused by a later subscription of the same kind and codec.

Both directions take trickled ICE candidates (:meth:`SfuNode.add_ice_candidate`); the node's own
candidates are all in its SDP (gathering completes before it answers or offers).

Every refusal is an :class:`SfuError` with a stable ``code`` (see :class:`SfuErrorCode`) and a
message for humans; it is counted in ``venuekit_sfu_rejected_requests_total``. Things that
happen on their own (tracks published, a peer vanished, the active speaker changed) are
reported through the ``on_event`` callback as :class:`SfuEvent`.

A participant whose peer connection fails or closes is removed with everything they had: their
tracks (and everyone's subscriptions to them), their subscriptions, their RTCP task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal

from aiortc import RTCPeerConnection, RTCRtpTransceiver
from aiortc.rtp import (
    RTCP_SDES,
    AnyRtcpPacket,
    RtcpRrPacket,
    RtpPacket,
    pack_rtcp_packet,
)

from sfu import aiortc_glue as glue
from sfu import metrics
from sfu.codecs import is_supported, is_supported_mime, map_payload_types
from sfu.forwarder import DownstreamParams, DownTrack, UpstreamParams, UpTrack
from sfu.forwarding import ForwardingError, ForwardingTable
from sfu.speaker import ActiveSpeakerDetector

log = logging.getLogger(__name__)

MAX_SDP_BYTES: Final = 64 * 1024
MAX_RR_BLOCKS: Final = 31
Direction = Literal["publish", "subscribe"]


class SfuErrorCode(StrEnum):
    NODE_CLOSED = "node_closed"
    INVALID_ARGUMENT = "invalid_argument"
    UNKNOWN_SPACE = "unknown_space"
    SPACE_EXISTS = "space_exists"
    TOO_MANY_SPACES = "too_many_spaces"
    UNKNOWN_PARTICIPANT = "unknown_participant"
    PARTICIPANT_EXISTS = "participant_exists"
    TOO_MANY_PUBLISHERS = "too_many_publishers"
    TOO_MANY_SUBSCRIBERS = "too_many_subscribers"
    TOO_MANY_TRACKS = "too_many_tracks"
    MALFORMED_SDP = "malformed_sdp"
    UNSUPPORTED_CODEC = "unsupported_codec"
    NEGOTIATION_FAILED = "negotiation_failed"
    INVALID_STATE = "invalid_state"
    BAD_CANDIDATE = "bad_candidate"
    UNKNOWN_TRACK = "unknown_track"
    OWN_TRACK = "own_track"
    ALREADY_SUBSCRIBED = "already_subscribed"
    NOT_SUBSCRIBED = "not_subscribed"
    # the network node API (sfu/server.py) and its client
    UNAUTHORIZED = "unauthorized"
    INVALID_JSON = "invalid_json"
    UNKNOWN_OPERATION = "unknown_operation"
    NODE_UNREACHABLE = "node_unreachable"


class SfuError(Exception):
    """A refused node request: a stable ``code``, a human ``message``, optional ``details``."""

    def __init__(self, code: SfuErrorCode, message: str, **details: object) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details
        metrics.REJECTED.labels(str(code)).inc()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": str(self.code), "message": self.message}
        if self.details:
            out["details"] = dict(self.details)
        return out


@dataclass(frozen=True, slots=True)
class Limits:
    max_spaces: int = 1000
    max_publishers_per_space: int = 50
    max_subscribers_per_space: int = 500
    max_tracks_per_publisher: int = 4


@dataclass(frozen=True, slots=True)
class TrackInfo:
    track_id: str
    participant_id: str
    kind: str
    mid: str | None
    codec: str
    muted: bool
    label: str | None = None  # what the publisher called it (camera, microphone, screen)


@dataclass(frozen=True, slots=True)
class PublishAnswer:
    sdp: str
    tracks: tuple[TrackInfo, ...]  # every track of this participant after the offer
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscriberOffer:
    sdp: str
    mids: Mapping[str, str]  # track id -> mid in this offer


@dataclass(frozen=True, slots=True)
class SfuEvent:
    """Something signalling may want to tell clients about.

    ``type``: ``track_published``, ``track_unpublished``, ``track_muted``, ``active_speaker``,
    ``participant_left`` (``data["reason"]``), ``renegotiation_needed``.
    """

    type: str
    space_id: str
    participant_id: str | None = None
    track_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


EventCallback = Callable[[SfuEvent], None]


# --- adapters between aiortc_glue taps and the forwarder ------------------------------------


class _Inbound:
    """Receives a published m-section's packets from the glue; feeds the current up-track."""

    def __init__(self) -> None:
        self.up: UpTrack | None = None

    async def on_rtp(self, packet: RtpPacket, arrival: float) -> None:
        if self.up is not None:
            await self.up.on_rtp(packet, arrival)

    def on_rtcp(self, packet: AnyRtcpPacket) -> None:
        if self.up is not None:
            self.up.on_rtcp(packet)

    def on_receive(self, ssrc: int | None, rtx_ssrc: int | None) -> None:
        if self.up is not None and self.up.media_ssrc is None:
            self.up.media_ssrc = ssrc

    def on_stop(self) -> None:
        pass


class _Outbound:
    """The glue's view of a subscriber slot; hands negotiation and RTCP to the down-track."""

    def __init__(self) -> None:
        self.down: DownTrack | None = None

    def on_send(self, params: DownstreamParams) -> None:
        if self.down is None:
            return
        self.down.configure(params)
        if not self.down.can_forward:
            log.warning("subscriber %s negotiated none of the track's codecs", self.down.subscriber_id)

    async def on_rtcp(self, packet: AnyRtcpPacket) -> None:
        if self.down is not None:
            await self.down.on_rtcp(packet)

    def on_stop(self) -> None:
        if self.down is not None:
            self.down.close()


@dataclass(slots=True)
class _Published:
    track_id: str
    transceiver: RTCRtpTransceiver
    tap: glue.ReceiverTap
    inbound: _Inbound
    up: UpTrack | None = None
    label: str | None = None


@dataclass(slots=True)
class _Subscription:
    track_id: str
    transceiver: RTCRtpTransceiver
    tap: glue.SenderTap
    outbound: _Outbound
    down: DownTrack


class _Participant:
    def __init__(self, space: _Space, participant_id: str) -> None:
        self.space = space
        self.id = participant_id
        self.pub_pc: RTCPeerConnection | None = None
        self.sub_pc: RTCPeerConnection | None = None
        self.pub_lock = asyncio.Lock()
        self.sub_lock = asyncio.Lock()
        self.published: dict[str, _Published] = {}  # by mid
        self.subscriptions: dict[str, _Subscription] = {}  # by track id
        # unsubscribed m-sections (inactive), reused by later subscriptions of the same kind
        self.free_slots: list[_Subscription] = []
        self.needs_offer = False
        # when this participant's next receiver and sender reports are due (monotonic)
        self.next_report: float | None = None
        self.closing = False

    @property
    def up_tracks(self) -> list[UpTrack]:
        return [p.up for p in self.published.values() if p.up is not None]


def sdes_cname_chunk(ssrc: int, cname: str) -> bytes:
    """One SDES chunk (RFC 3550 6.5): the SSRC, a CNAME item, a null octet and padding to 32 bits."""
    value = cname.encode()[:255]
    body = struct.pack("!LBB", ssrc, 1, len(value)) + value
    return body + bytes(4 - len(body) % 4)


def compound_sender_reports(reports: Sequence[tuple[bytes, bytes]], max_bytes: int = 1200) -> list[bytes]:
    """Compound RTCP packets (RFC 3550 6.1) of ``(sender report, SDES chunk)`` pairs: each is its
    SRs, then an SDES packet per chunk (an empty chunk: none for that stream), at most
    ``max_bytes`` long unless a single pair is longer.

    One SDES packet per chunk rather than one with several chunks: aiortc's parser misreads
    the padding between chunks, and would drop the whole compound packet, SRs included.
    """
    packets: list[bytes] = []
    parts: list[bytes] = []
    chunks: list[bytes] = []
    size = 0
    for sr, chunk in reports:
        grows = len(sr) + (len(chunk) + 4 if chunk else 0)
        if parts and size + grows > max_bytes:
            packets.append(b"".join(parts + chunks))
            parts, chunks, size = [], [], 0
        parts.append(sr)
        if chunk:
            chunks.append(pack_rtcp_packet(RTCP_SDES, 1, chunk))
        size += grows
    if parts:
        packets.append(b"".join(parts + chunks))
    return packets


class _Space:
    def __init__(self, space_id: str, limits: Limits) -> None:
        self.id = space_id
        self.limits = limits
        self.table: ForwardingTable[DownTrack] = ForwardingTable()
        self.ups: dict[str, UpTrack] = {}
        self.participants: dict[str, _Participant] = {}
        self.speaker = ActiveSpeakerDetector()
        self.speaker_task: asyncio.Task[None] | None = None
        self.rtcp_task: asyncio.Task[None] | None = None

    def publisher_count(self) -> int:
        return sum(1 for p in self.participants.values() if p.up_tracks)

    def subscriber_count(self) -> int:
        return sum(1 for p in self.participants.values() if p.subscriptions)


class SfuNode:
    """One media node. Single event loop; every method is called from it."""

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        ice_servers: tuple[str, ...] = (),
        ice_host_addresses: tuple[str, ...] | None = None,
        on_event: EventCallback | None = None,
        tick_interval_s: float = 0.05,
        rtcp_interval_s: float = 1.0,
        speaker_interval_s: float = 0.3,
        keyframe_interval_s: float = 1.0,
    ) -> None:
        glue.check_aiortc()
        self.limits = limits or Limits()
        self._ice_servers = ice_servers
        if ice_host_addresses is not None:
            glue.set_ice_host_addresses(ice_host_addresses)
        self._on_event = on_event
        self._tick_interval_s = tick_interval_s
        self._rtcp_interval_s = rtcp_interval_s
        self._speaker_interval_s = speaker_interval_s
        self._keyframe_interval_s = keyframe_interval_s
        self._spaces: dict[str, _Space] = {}
        self._closed = False
        self._cleanup_tasks: set[asyncio.Task[None]] = set()

    # --- events ---------------------------------------------------------------------------

    def _emit(self, event: SfuEvent) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(event)
        except Exception:
            log.exception("event callback failed for %s", event.type)

    # --- lookups --------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise SfuError(SfuErrorCode.NODE_CLOSED, "the media node is shutting down")

    def _space(self, space_id: str) -> _Space:
        self._check_open()
        space = self._spaces.get(space_id)
        if space is None:
            raise SfuError(
                SfuErrorCode.UNKNOWN_SPACE, f"no space {space_id!r} on this node", space_id=space_id
            )
        return space

    def _participant(self, space_id: str, participant_id: str) -> _Participant:
        space = self._space(space_id)
        participant = space.participants.get(participant_id)
        if participant is None or participant.closing:
            raise SfuError(
                SfuErrorCode.UNKNOWN_PARTICIPANT,
                f"{participant_id!r} is not in space {space_id!r}",
                participant_id=participant_id,
            )
        return participant

    # --- spaces ---------------------------------------------------------------------------

    async def create_space(self, space_id: str, *, limits: Limits | None = None) -> None:
        self._check_open()
        if not space_id or not isinstance(space_id, str):
            raise SfuError(SfuErrorCode.INVALID_ARGUMENT, "space id must be a non-empty string")
        if space_id in self._spaces:
            raise SfuError(SfuErrorCode.SPACE_EXISTS, f"space {space_id!r} already exists", space_id=space_id)
        if len(self._spaces) >= self.limits.max_spaces:
            raise SfuError(SfuErrorCode.TOO_MANY_SPACES, "this node runs its maximum number of spaces")
        space = _Space(space_id, limits or self.limits)
        space.speaker_task = asyncio.create_task(self._run_speaker(space), name=f"sfu-speaker-{space_id}")
        space.rtcp_task = asyncio.create_task(self._run_rtcp(space), name=f"sfu-rtcp-{space_id}")
        self._spaces[space_id] = space
        metrics.SPACES.inc()

    async def close_space(self, space_id: str) -> None:
        space = self._space(space_id)
        for participant_id in list(space.participants):
            await self._remove_participant(space, participant_id, reason="space_closed")
        for task in (space.speaker_task, space.rtcp_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        del self._spaces[space_id]
        metrics.SPACES.dec()

    def spaces(self) -> list[str]:
        return list(self._spaces)

    def load(self) -> float:
        """What placement compares between nodes: spaces plus participants hosted here."""
        return float(len(self._spaces) + sum(len(s.participants) for s in self._spaces.values()))

    # --- participants ---------------------------------------------------------------------

    async def add_participant(self, space_id: str, participant_id: str) -> None:
        space = self._space(space_id)
        if not participant_id or not isinstance(participant_id, str) or ":" in participant_id:
            raise SfuError(
                SfuErrorCode.INVALID_ARGUMENT, "participant id must be a non-empty string without ':'"
            )
        if participant_id in space.participants:
            raise SfuError(SfuErrorCode.PARTICIPANT_EXISTS, f"{participant_id!r} is already in {space_id!r}")
        participant = _Participant(space, participant_id)
        space.participants[participant_id] = participant

    async def remove_participant(self, space_id: str, participant_id: str) -> None:
        space = self._space(space_id)
        if participant_id not in space.participants:
            raise SfuError(
                SfuErrorCode.UNKNOWN_PARTICIPANT, f"{participant_id!r} is not in space {space_id!r}"
            )
        await self._remove_participant(space, participant_id, reason="removed")

    async def _remove_participant(self, space: _Space, participant_id: str, *, reason: str) -> None:
        participant = space.participants.get(participant_id)
        if participant is None or participant.closing:
            return
        participant.closing = True
        for track_id in [p.track_id for p in participant.published.values() if p.up is not None]:
            self._drop_track(space, participant, track_id)
            self._emit(SfuEvent("track_unpublished", space.id, participant_id, track_id))
        for track_id in list(participant.subscriptions):
            self._drop_subscription(space, participant, track_id)
        for pc, direction in ((participant.pub_pc, "publish"), (participant.sub_pc, "subscribe")):
            if pc is not None:
                await glue.close_peer_connection(pc)
                metrics.PEERS.labels(direction).dec()
        participant.pub_pc = participant.sub_pc = None
        participant.published.clear()
        participant.free_slots.clear()
        del space.participants[participant_id]
        change = space.speaker.remove(participant_id)
        if change is not None:
            self._announce_speaker(space, change.current)
        self._emit(SfuEvent("participant_left", space.id, participant_id, data={"reason": reason}))

    def participants(self, space_id: str) -> list[str]:
        return list(self._space(space_id).participants)

    def _new_pc(self, space: _Space, participant: _Participant, direction: Direction) -> RTCPeerConnection:
        pc = glue.create_peer_connection(self._ice_servers)
        metrics.PEERS.labels(direction).inc()

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed") and not participant.closing:
                log.info("%s connection of %s is %s", direction, participant.id, pc.connectionState)
                task = asyncio.ensure_future(
                    self._remove_participant(
                        space, participant.id, reason=f"{direction}_{pc.connectionState}"
                    )
                )
                self._cleanup_tasks.add(task)
                task.add_done_callback(self._cleanup_tasks.discard)

        return pc

    # --- publishing -----------------------------------------------------------------------

    async def publish(
        self,
        space_id: str,
        participant_id: str,
        offer_sdp: str,
        *,
        labels: Mapping[str, str] | None = None,
    ) -> PublishAnswer:
        """Apply a participant's publish offer; returns the node's answer and their tracks.

        ``labels`` (mid -> a name such as ``camera``) is kept with each track and reported in
        :class:`TrackInfo` so every signalling instance can describe it."""
        participant = self._participant(space_id, participant_id)
        space = participant.space
        media = _check_sdp(offer_sdp)
        sending = {
            m.mid: m
            for m in media
            if m.kind in ("audio", "video") and m.direction in ("sendonly", "sendrecv")
        }
        for m in sending.values():
            if not any(is_supported_mime(c) for c in m.codecs):
                raise SfuError(
                    SfuErrorCode.UNSUPPORTED_CODEC,
                    f"no supported {m.kind} codec offered in m-section {m.mid!r}",
                    mid=m.mid,
                    offered=list(m.codecs),
                )
        already = {p.track_id for p in participant.published.values() if p.up is not None}
        if not already and sending and space.publisher_count() >= space.limits.max_publishers_per_space:
            raise SfuError(
                SfuErrorCode.TOO_MANY_PUBLISHERS,
                f"space {space_id!r} has its maximum of {space.limits.max_publishers_per_space} publishers",
                limit=space.limits.max_publishers_per_space,
            )
        if len(sending) > space.limits.max_tracks_per_publisher:
            raise SfuError(
                SfuErrorCode.TOO_MANY_TRACKS,
                f"at most {space.limits.max_tracks_per_publisher} tracks per publisher",
                limit=space.limits.max_tracks_per_publisher,
            )
        async with participant.pub_lock:
            fresh = participant.pub_pc is None
            if participant.pub_pc is None:
                participant.pub_pc = self._new_pc(space, participant, "publish")
            pc = participant.pub_pc
            try:
                await pc.setRemoteDescription(glue.session_description(offer_sdp, "offer"))
                # No await between here and the taps: aiortc starts receivers on a later turn.
                added, removed = self._sync_published(space, participant, pc, set(sending))
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as exc:
                if fresh:  # a failed first offer leaves nothing behind; the client may retry
                    await self._discard_pub_pc(space, participant)
                if isinstance(exc, SfuError):
                    raise
                raise SfuError(
                    SfuErrorCode.NEGOTIATION_FAILED, f"cannot apply the offer ({type(exc).__name__}: {exc})"
                ) from None
            answer = pc.localDescription.sdp
            for mid, published in participant.published.items():
                if labels is not None and mid in labels:
                    published.label = labels[mid]
        for track_id in added:
            self._emit(SfuEvent("track_published", space_id, participant_id, track_id))
        for track_id in removed:
            self._emit(SfuEvent("track_unpublished", space_id, participant_id, track_id))
        return PublishAnswer(
            sdp=answer,
            tracks=tuple(self._track_infos(participant)),
            added=tuple(added),
            removed=tuple(removed),
        )

    async def _discard_pub_pc(self, space: _Space, participant: _Participant) -> None:
        for track_id in [p.track_id for p in participant.published.values() if p.up is not None]:
            self._drop_track(space, participant, track_id)
        participant.published.clear()
        pc, participant.pub_pc = participant.pub_pc, None
        if pc is not None:
            pc.remove_all_listeners()
            await glue.close_peer_connection(pc)
            metrics.PEERS.labels("publish").dec()

    def _sync_published(
        self, space: _Space, participant: _Participant, pc: RTCPeerConnection, sending: set[str | None]
    ) -> tuple[list[str], list[str]]:
        added: list[str] = []
        removed: list[str] = []
        for transceiver in pc.getTransceivers():
            mid = glue.transceiver_mid(transceiver)
            if mid is None:
                continue
            glue.set_transceiver_direction(transceiver, "recvonly")
            published = participant.published.get(mid)
            if published is None:
                inbound = _Inbound()
                tap = glue.tap_receiver(transceiver, inbound)
                published = _Published(f"{participant.id}:{mid}", transceiver, tap, inbound)
                participant.published[mid] = published
            if mid in sending and published.up is None:
                self._start_track(space, participant, published)
                added.append(published.track_id)
            elif mid not in sending and published.up is not None:
                self._drop_track(space, participant, published.track_id)
                removed.append(published.track_id)
        return added, removed

    def _start_track(self, space: _Space, participant: _Participant, published: _Published) -> None:
        codecs = tuple(c for c in glue.negotiated_codecs(published.transceiver) if is_supported(c))
        if not codecs:
            raise SfuError(
                SfuErrorCode.UNSUPPORTED_CODEC, f"no supported codec negotiated for {published.track_id}"
            )
        track_id = published.track_id
        kind = published.transceiver.kind
        up = UpTrack(
            track_id=track_id,
            publisher_id=participant.id,
            params=UpstreamParams(kind=kind, mid=glue.transceiver_mid(published.transceiver), codecs=codecs),
            send_rtcp=published.tap.send_rtcp,
            rtcp_ssrc=published.tap.rtcp_ssrc,
            targets=lambda: space.table.targets(track_id),
            on_audio_level=lambda _track, level, now: space.speaker.observe(participant.id, level, now),
            keyframe_interval_s=self._keyframe_interval_s,
        )
        space.table.add_track(track_id, participant.id, kind)
        space.ups[track_id] = up
        published.up = up
        published.inbound.up = up
        metrics.TRACKS.labels(kind).inc()

    def _drop_track(self, space: _Space, participant: _Participant, track_id: str) -> None:
        published = next((p for p in participant.published.values() if p.track_id == track_id), None)
        if published is None or published.up is None:
            return
        up = published.up
        published.up = None
        published.inbound.up = None
        up.close()
        space.ups.pop(track_id, None)
        downs = space.table.remove_track(track_id)
        metrics.TRACKS.labels(up.kind).dec()
        for subscriber_id, down in downs.items():
            down.close()
            subscriber = space.participants.get(subscriber_id)
            if subscriber is not None:
                self._forget_subscription(subscriber, track_id)

    async def unpublish(self, space_id: str, participant_id: str, track_id: str) -> None:
        """Stop forwarding a track now (the participant should also renegotiate it away)."""
        participant = self._participant(space_id, participant_id)
        if not any(p.track_id == track_id and p.up is not None for p in participant.published.values()):
            raise SfuError(SfuErrorCode.UNKNOWN_TRACK, f"{participant_id!r} does not publish {track_id!r}")
        self._drop_track(participant.space, participant, track_id)
        self._emit(SfuEvent("track_unpublished", space_id, participant_id, track_id))

    def set_muted(self, space_id: str, participant_id: str, track_id: str, muted: bool) -> None:
        """Publisher mute: nothing of the track is forwarded while muted."""
        participant = self._participant(space_id, participant_id)
        up = participant.space.ups.get(track_id)
        if up is None or up.publisher_id != participant_id:
            raise SfuError(SfuErrorCode.UNKNOWN_TRACK, f"{participant_id!r} does not publish {track_id!r}")
        if up.muted != muted:
            up.set_muted(muted)
            self._emit(SfuEvent("track_muted", space_id, participant_id, track_id, {"muted": muted}))

    def tracks(self, space_id: str) -> list[TrackInfo]:
        space = self._space(space_id)
        return [info for p in space.participants.values() for info in self._track_infos(p)]

    def _track_infos(self, participant: _Participant) -> list[TrackInfo]:
        return [
            TrackInfo(
                track_id=p.track_id,
                participant_id=participant.id,
                kind=p.up.kind,
                mid=mid,
                codec=p.up.codecs[0].mime_type,
                muted=p.up.muted,
                label=p.label,
            )
            for mid, p in participant.published.items()
            if p.up is not None
        ]

    # --- subscribing ----------------------------------------------------------------------

    async def subscribe(self, space_id: str, participant_id: str, track_id: str) -> bool:
        """Subscribe to a track. Returns ``True``: a new :meth:`subscriber_offer` is needed."""
        participant = self._participant(space_id, participant_id)
        space = participant.space
        up = space.ups.get(track_id)
        if up is None:
            raise SfuError(SfuErrorCode.UNKNOWN_TRACK, f"no track {track_id!r} in space {space_id!r}")
        if up.publisher_id == participant_id:
            raise SfuError(SfuErrorCode.OWN_TRACK, "a participant cannot subscribe to their own track")
        if track_id in participant.subscriptions:
            raise SfuError(SfuErrorCode.ALREADY_SUBSCRIBED, f"already subscribed to {track_id!r}")
        if (
            not participant.subscriptions
            and space.subscriber_count() >= space.limits.max_subscribers_per_space
        ):
            raise SfuError(
                SfuErrorCode.TOO_MANY_SUBSCRIBERS,
                f"space {space_id!r} has its maximum of {space.limits.max_subscribers_per_space} subscribers",
                limit=space.limits.max_subscribers_per_space,
            )
        async with participant.sub_lock:
            if participant.sub_pc is None:
                participant.sub_pc = self._new_pc(space, participant, "subscribe")
            slot = self._reuse_slot(participant, up) or self._new_slot(participant, participant.sub_pc, up)
            slot.track_id = track_id
            try:
                space.table.subscribe(participant_id, track_id, slot.down)
            except ForwardingError as exc:  # raced with an unpublish
                self._free_slot(participant, slot)
                raise SfuError(SfuErrorCode.UNKNOWN_TRACK, exc.message) from None
            participant.subscriptions[track_id] = slot
            participant.needs_offer = True
            metrics.SUBSCRIPTIONS.inc()
        self._emit(SfuEvent("renegotiation_needed", space_id, participant_id, track_id))
        return True

    def _new_slot(self, participant: _Participant, pc: RTCPeerConnection, up: UpTrack) -> _Subscription:
        transceiver = pc.addTransceiver(up.kind, direction="sendonly")
        if not glue.prefer_codecs(transceiver, up.codecs):
            glue.set_transceiver_direction(transceiver, "inactive")
            raise SfuError(SfuErrorCode.UNSUPPORTED_CODEC, f"the node cannot send {up.codecs[0].mime_type}")
        outbound = _Outbound()
        tap = glue.tap_sender(transceiver, outbound)
        down = DownTrack(
            subscriber_id=participant.id,
            up=up,
            kind=up.kind,
            ssrc=tap.ssrc,
            rtx_ssrc=tap.rtx_ssrc,
            send_rtp=tap.send_rtp_now,
            wire=tap.send_rtp_now,
        )
        outbound.down = down
        return _Subscription("", transceiver, tap, outbound, down)

    def _reuse_slot(self, participant: _Participant, up: UpTrack) -> _Subscription | None:
        """An unsubscribed m-section that can carry ``up``: same kind, and either negotiated with
        a codec of the same format or never offered at all."""
        for slot in participant.free_slots:
            if slot.down.kind != up.kind:
                continue
            params = slot.down.params
            if params is None:
                usable = glue.transceiver_mid(slot.transceiver) is None and glue.prefer_codecs(
                    slot.transceiver, up.codecs
                )
            else:
                usable = bool(map_payload_types(up.codecs[:1], params.codecs).media)
            if usable:
                participant.free_slots.remove(slot)
                glue.set_transceiver_direction(slot.transceiver, "sendonly")
                slot.down.reopen(up)
                slot.outbound.down = slot.down
                return slot
        return None

    def _free_slot(self, participant: _Participant, slot: _Subscription) -> None:
        slot.down.close()
        slot.outbound.down = None
        slot.track_id = ""
        glue.set_transceiver_direction(slot.transceiver, "inactive")
        participant.free_slots.append(slot)

    async def subscriber_offer(self, space_id: str, participant_id: str) -> SubscriberOffer:
        participant = self._participant(space_id, participant_id)
        async with participant.sub_lock:
            pc = participant.sub_pc
            if pc is None:
                raise SfuError(SfuErrorCode.INVALID_STATE, "nothing to offer: subscribe to a track first")
            if pc.signalingState != "stable":
                raise SfuError(
                    SfuErrorCode.INVALID_STATE, f"an offer is already pending ({pc.signalingState})"
                )
            try:
                await pc.setLocalDescription(await pc.createOffer())
            except Exception as exc:
                raise SfuError(
                    SfuErrorCode.NEGOTIATION_FAILED, f"cannot create an offer ({type(exc).__name__}: {exc})"
                ) from None
            participant.needs_offer = False
            mids = {
                track_id: mid
                for track_id, sub in participant.subscriptions.items()
                if (mid := glue.transceiver_mid(sub.transceiver)) is not None
            }
            return SubscriberOffer(sdp=pc.localDescription.sdp, mids=mids)

    async def subscriber_answer(self, space_id: str, participant_id: str, answer_sdp: str) -> None:
        participant = self._participant(space_id, participant_id)
        _check_sdp(answer_sdp)
        async with participant.sub_lock:
            pc = participant.sub_pc
            if pc is None or pc.signalingState != "have-local-offer":
                raise SfuError(SfuErrorCode.INVALID_STATE, "no subscriber offer is waiting for an answer")
            try:
                await pc.setRemoteDescription(glue.session_description(answer_sdp, "answer"))
            except Exception as exc:
                raise SfuError(
                    SfuErrorCode.NEGOTIATION_FAILED, f"cannot apply the answer ({type(exc).__name__}: {exc})"
                ) from None

    async def unsubscribe(self, space_id: str, participant_id: str, track_id: str) -> None:
        participant = self._participant(space_id, participant_id)
        if track_id not in participant.subscriptions:
            raise SfuError(SfuErrorCode.NOT_SUBSCRIBED, f"not subscribed to {track_id!r}")
        self._drop_subscription(participant.space, participant, track_id)
        participant.needs_offer = True
        self._emit(SfuEvent("renegotiation_needed", space_id, participant_id, track_id))

    def _drop_subscription(self, space: _Space, participant: _Participant, track_id: str) -> None:
        with contextlib.suppress(ForwardingError):
            space.table.unsubscribe(participant.id, track_id)
        self._forget_subscription(participant, track_id)

    def _forget_subscription(self, participant: _Participant, track_id: str) -> None:
        sub = participant.subscriptions.pop(track_id, None)
        if sub is None:
            return
        self._free_slot(participant, sub)
        metrics.SUBSCRIPTIONS.dec()

    def _subscription(self, space_id: str, participant_id: str, track_id: str) -> _Subscription:
        participant = self._participant(space_id, participant_id)
        sub = participant.subscriptions.get(track_id)
        if sub is None:
            raise SfuError(SfuErrorCode.NOT_SUBSCRIBED, f"not subscribed to {track_id!r}")
        return sub

    def pause(self, space_id: str, participant_id: str, track_id: str) -> None:
        """Send nothing of this track to this subscriber until :meth:`resume`."""
        self._subscription(space_id, participant_id, track_id).down.pause()

    def resume(self, space_id: str, participant_id: str, track_id: str) -> None:
        self._subscription(space_id, participant_id, track_id).down.resume()

    def subscriptions(self, space_id: str, participant_id: str) -> dict[str, dict[str, object]]:
        """Per subscribed track: ``mid``, ``paused``, ``ready``, ``packets_sent``, ``remb_bps``,
        ``native`` (its packets are sent by the C fan-out, ``sfu._native``)."""
        participant = self._participant(space_id, participant_id)
        return {
            track_id: {
                "mid": glue.transceiver_mid(sub.transceiver),
                "paused": sub.down.paused,
                "ready": sub.down.ready,
                "packets_sent": sub.down.packets_sent,
                "retransmissions": sub.down.retransmissions,
                "remb_bps": sub.down.remb_bps,
                "native": sub.down.lane.armed,
            }
            for track_id, sub in participant.subscriptions.items()
        }

    # --- ICE --------------------------------------------------------------------------------

    async def add_ice_candidate(
        self,
        space_id: str,
        participant_id: str,
        direction: Direction,
        candidate: str | None,
        *,
        sdp_mid: str | None = None,
        sdp_mline_index: int | None = None,
    ) -> None:
        """A trickled candidate of the participant (``None`` or ``""``: end of candidates)."""
        participant = self._participant(space_id, participant_id)
        if direction not in ("publish", "subscribe"):
            raise SfuError(SfuErrorCode.INVALID_ARGUMENT, "direction must be 'publish' or 'subscribe'")
        pc = participant.pub_pc if direction == "publish" else participant.sub_pc
        if pc is None or pc.remoteDescription is None:
            raise SfuError(SfuErrorCode.INVALID_STATE, f"no {direction} negotiation to add a candidate to")
        if not candidate:
            await pc.addIceCandidate(None)
            return
        if sdp_mid is None and sdp_mline_index is None:
            sdp_mid, sdp_mline_index = None, 0
        try:
            parsed = glue.parse_candidate(candidate, sdp_mid, sdp_mline_index)
        except ValueError as exc:
            raise SfuError(SfuErrorCode.BAD_CANDIDATE, str(exc)) from None
        try:
            await pc.addIceCandidate(parsed)
        except Exception as exc:
            raise SfuError(SfuErrorCode.BAD_CANDIDATE, f"{type(exc).__name__}: {exc}") from None

    # --- background work --------------------------------------------------------------------

    async def _run_rtcp(self, space: _Space) -> None:
        """Per space, one task: NACK retries and pending keyframe requests of every published
        track (every tick); receiver reports to each participant as publisher and sender reports
        to them as subscriber (every ~second, each on its own randomised schedule).

        One task per space rather than per participant: a task wake-up per participant and
        tick cost more than the forwarding of a 64-subscriber space (docs/BENCHMARKS.md). The
        ticks sit on a grid shared by all spaces, so the process wakes once per tick.
        """
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._tick_interval_s - loop.time() % self._tick_interval_s)
            # in a method of its own: its locals (the last participant walked) must not keep a
            # participant who leaves, and their peer connections, alive until the next tick
            await self._rtcp_tick(space, time.monotonic())

    async def _rtcp_tick(self, space: _Space, now: float) -> None:
        for participant in list(space.participants.values()):
            if participant.closing:
                continue
            try:
                for published in participant.published.values():
                    if published.up is not None:
                        await published.up.tick()
                if participant.next_report is None:
                    participant.next_report = now + self._rtcp_interval_s
                elif now >= participant.next_report:
                    jitter = random.uniform(0.5, 1.5)  # noqa: S311 (RFC 3550 6.3.1)
                    participant.next_report = now + self._rtcp_interval_s * jitter
                    await self._send_reports(participant)
            except Exception:
                log.exception("RTCP work for %s failed", participant.id)

    async def _send_reports(self, participant: _Participant) -> None:
        published = [p for p in participant.published.values() if p.up is not None]
        blocks = [b for p in published if p.up is not None and (b := p.up.report_block()) is not None]
        if published and blocks:
            tap = published[0].tap
            for i in range(0, len(blocks), MAX_RR_BLOCKS):
                rr = RtcpRrPacket(ssrc=tap.rtcp_ssrc, reports=blocks[i : i + MAX_RR_BLOCKS])
                await tap.send_rtcp(bytes(rr))
        # The sender reports of all the streams a subscriber receives on one transport go out
        # as compound packets (RFC 3550 6.1: the SRs, then one SDES with a CNAME chunk each), a
        # send per transport and ~second instead of one per stream.
        compounds: dict[int, tuple[_Subscription, list[tuple[bytes, bytes]]]] = {}
        for sub in list(participant.subscriptions.values()):
            sr = sub.down.sender_report()
            if sr is None:
                continue
            cname = sub.down.params.cname if sub.down.params is not None else None
            sdes = sdes_cname_chunk(sub.down.ssrc, cname) if cname else b""
            compounds.setdefault(id(sub.tap.sender.transport), (sub, []))[1].append((bytes(sr), sdes))
        for first, reports in compounds.values():
            for data in compound_sender_reports(reports):
                await first.tap.send_rtp(data)

    async def _run_speaker(self, space: _Space) -> None:
        while True:
            await asyncio.sleep(self._speaker_interval_s)
            try:
                change = space.speaker.update(time.monotonic())
                if change is not None:
                    self._announce_speaker(space, change.current)
            except Exception:
                log.exception("active-speaker detection failed in %s", space.id)

    def _announce_speaker(self, space: _Space, current: str | None) -> None:
        metrics.ACTIVE_SPEAKER_CHANGES.inc()
        self._emit(SfuEvent("active_speaker", space.id, current))

    def active_speaker(self, space_id: str) -> str | None:
        return self._space(space_id).speaker.current

    # --- shutdown -----------------------------------------------------------------------------

    async def close(self) -> None:
        """Close every space (and so every peer connection and task)."""
        if self._closed:
            return
        for space_id in list(self._spaces):
            await self.close_space(space_id)
        self._closed = True
        for task in list(self._cleanup_tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def task_count(self) -> int:
        """Background tasks this node owns (for leak checks)."""
        count = len(self._cleanup_tasks)
        for space in self._spaces.values():
            for task in (space.speaker_task, space.rtcp_task):
                count += 1 if task is not None and not task.done() else 0
        return count


def _check_sdp(sdp: object) -> list[glue.MediaSummary]:
    if not isinstance(sdp, str):
        raise SfuError(SfuErrorCode.MALFORMED_SDP, "SDP must be a string")
    if len(sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
        raise SfuError(SfuErrorCode.MALFORMED_SDP, f"SDP larger than {MAX_SDP_BYTES} bytes")
    try:
        media = glue.parse_sdp(sdp)
    except ValueError as exc:
        raise SfuError(SfuErrorCode.MALFORMED_SDP, str(exc)) from None
    if not media:
        raise SfuError(SfuErrorCode.MALFORMED_SDP, "SDP has no media sections")
    return media
