"""Every use of aiortc (and aioice) internals in VenueKit lives in this module.

aiortc terminates WebRTC for us (ICE, DTLS-SRTP, SDP) but its public API hands out decoded
frames. The SFU forwards packets instead, so it taps in one level below the public API:

- **Inbound** (publisher -> SFU): the receiver of each published track gets replacement
  ``receive``/``stop``/``_handle_rtp_packet``/``_handle_rtcp_packet`` methods *on the instance*
  before aiortc starts it. ``receive`` registers the receiver with the DTLS transport's RTP
  router (as aiortc does) but starts neither the decoder thread nor aiortc's RTCP loop; packets
  go to an :class:`InboundSink`.
- **Outbound** (SFU -> subscriber): the sender of each subscriber slot gets replacement
  ``send``/``stop``/``_handle_rtcp_packet``. ``send`` registers the sender's SSRC with the
  router (so the subscriber's RTCP about it is routed back) and reports the negotiated
  parameters; aiortc's encoder loop and RTCP loop never start. Packets are written with the
  DTLS transport's ``_send_rtp`` (which SRTP-protects them).
- **Transport**: ``_handle_rtp_data``/``_handle_rtcp_data`` of each DTLS transport are replaced
  by versions that count (and survive) malformed packets and packets nobody claims.
- **ICE**: aioice's host-address discovery can be restricted (``set_ice_host_addresses``).

``tests/sfu/test_aiortc_contract.py`` checks the version pin and every attribute and signature
used here, so an aiortc upgrade fails loudly there instead of silently breaking forwarding.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import aioice.ice
import aiortc
import pylibsrtp
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceCandidate,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpCodecCapability,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc import sdp as aiortc_sdp
from aiortc.rtcdtlstransport import RTCDtlsTransport, RtpRouter
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpReceiveParameters, RTCRtpSendParameters
from aiortc.rtp import AnyRtcpPacket, RtcpByePacket, RtcpPacket, RtpPacket

from sfu import metrics
from sfu.codecs import Codec, make_codec
from sfu.fastpath import NativeTarget
from sfu.forwarder import DownstreamParams

log = logging.getLogger(__name__)

AIORTC_VERSION: Final = "1.16.0"
_DTLS_CONNECTED: Final = DtlsState.CONNECTED


class GlueError(RuntimeError):
    """aiortc is not the version (or shape) this module was written against."""


def check_aiortc() -> None:
    if aiortc.__version__ != AIORTC_VERSION:
        raise GlueError(f"sfu.aiortc_glue needs aiortc {AIORTC_VERSION}, found {aiortc.__version__}")


# --- peer connections ---------------------------------------------------------------------


def create_peer_connection(ice_servers: Sequence[str] = ()) -> RTCPeerConnection:
    """A peer connection for one direction of one participant: max-bundle, no default STUN."""
    config = RTCConfiguration(
        iceServers=[RTCIceServer(urls=url) for url in ice_servers],
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
    )
    return RTCPeerConnection(config)


_original_get_host_addresses: Final = aioice.ice.get_host_addresses


def set_ice_host_addresses(addresses: Sequence[str] | None) -> None:
    """Gather host candidates only on ``addresses`` (process-wide); ``None`` restores discovery.

    aioice never offers loopback on its own; tests and single-host deployments pass
    ``["127.0.0.1"]``.
    """
    if addresses is None:
        aioice.ice.get_host_addresses = _original_get_host_addresses
        return
    fixed = list(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in fixed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses


# --- SDP ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaSummary:
    kind: str
    mid: str | None
    direction: str | None
    codecs: tuple[str, ...]  # MIME types, RTX excluded


def parse_sdp(sdp: str) -> list[MediaSummary]:
    """Parse an SDP with aiortc's parser; ``ValueError`` (with a reason) when it is unusable.

    Beyond parsing, checks what aiortc trusts blindly: every m-section has a unique mid, and a
    BUNDLE group names only those mids (aiortc otherwise moves transceivers onto a ``None``
    transport and cannot even close the connection afterwards).
    """
    if not isinstance(sdp, str) or not sdp.strip():
        raise ValueError("empty SDP")
    try:
        description = aiortc_sdp.SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc raises ValueError, KeyError, IndexError... on bad input
        raise ValueError(f"unparsable SDP ({type(exc).__name__}: {exc})") from None
    out = []
    mids: set[str] = set()
    for media in description.media:
        mid = media.rtp.muxId
        if not mid:
            raise ValueError(f"{media.kind} m-section without a mid")
        if mid in mids:
            raise ValueError(f"duplicate mid {mid!r}")
        mids.add(mid)
        codecs = tuple(c.mimeType for c in media.rtp.codecs if not c.mimeType.lower().endswith("/rtx"))
        out.append(MediaSummary(media.kind, mid, media.direction, codecs))
    for group in description.group:
        unknown = [str(item) for item in group.items if str(item) not in mids]
        if group.semantic == "BUNDLE" and unknown:
            raise ValueError(f"BUNDLE group names unknown mids {unknown}")
    return out


def parse_candidate(candidate: str, sdp_mid: str | None, sdp_mline_index: int | None) -> RTCIceCandidate:
    """A trickled ICE candidate (the browser's ``candidate`` string); ``ValueError`` if bad."""
    text = candidate.strip()
    if text.startswith("a="):
        text = text[2:]
    if text.startswith("candidate:"):
        text = text[len("candidate:") :]
    try:
        parsed = aiortc_sdp.candidate_from_sdp(text)
    except Exception as exc:
        raise ValueError(f"unparsable ICE candidate ({type(exc).__name__})") from None
    parsed.sdpMid = sdp_mid
    parsed.sdpMLineIndex = sdp_mline_index
    return parsed


async def close_peer_connection(pc: RTCPeerConnection) -> None:
    """Close ``pc``; if aiortc fails half-way, still stop every ICE/DTLS transport (sockets)."""
    try:
        await pc.close()
    except Exception:
        log.exception("RTCPeerConnection.close failed; stopping its transports directly")
        dtls: set[RTCDtlsTransport] = set(pc._RTCPeerConnection__dtlsTransports)  # type: ignore[attr-defined]
        for transport in dtls:
            with contextlib.suppress(Exception):
                await transport.stop()
        for ice in set(pc._RTCPeerConnection__iceTransports):  # type: ignore[attr-defined]
            with contextlib.suppress(Exception):
                await ice.stop()
        pc.remove_all_listeners()


def session_description(sdp: str, sdp_type: str) -> RTCSessionDescription:
    return RTCSessionDescription(sdp=sdp, type=sdp_type)


# --- codecs ---------------------------------------------------------------------------------


def _is_rtx(codec: RTCRtpCodecParameters) -> bool:
    return codec.mimeType.lower().endswith("/rtx")


def codecs_from_aiortc(codecs: Sequence[RTCRtpCodecParameters]) -> tuple[Codec, ...]:
    """aiortc's negotiated codec list -> media codecs, each with its RTX payload type if any."""
    rtx_for: dict[int, int] = {}
    for c in codecs:
        apt = c.parameters.get("apt")
        if _is_rtx(c) and isinstance(apt, int) and c.payloadType is not None:
            rtx_for[apt] = c.payloadType
    return tuple(
        make_codec(
            c.mimeType,
            c.clockRate,
            c.payloadType,
            channels=c.channels,
            parameters=dict(c.parameters),
            rtx_payload_type=rtx_for.get(c.payloadType),
        )
        for c in codecs
        if not _is_rtx(c) and c.payloadType is not None
    )


def negotiated_codecs(transceiver: RTCRtpTransceiver) -> tuple[Codec, ...]:
    """The codecs negotiated for a transceiver (after the remote description was applied)."""
    return codecs_from_aiortc(transceiver._codecs)


def prefer_codecs(transceiver: RTCRtpTransceiver, wanted: Sequence[Codec]) -> bool:
    """Offer only the codecs of ``wanted`` (plus RTX) on a transceiver; ``False`` if none is known."""
    capabilities = RTCRtpSender.getCapabilities(transceiver.kind).codecs
    chosen: list[RTCRtpCodecCapability] = []
    for cap in capabilities:
        if _is_rtx_capability(cap):
            continue
        as_codec = make_codec(
            cap.mimeType, cap.clockRate, 0, channels=cap.channels, parameters=cap.parameters
        )
        if any(as_codec.same_format(w) for w in wanted):
            chosen.append(cap)
    if not chosen:
        return False
    if any(w.rtx_payload_type is not None for w in wanted):
        chosen.extend(cap for cap in capabilities if _is_rtx_capability(cap))
    transceiver.setCodecPreferences(chosen)
    return True


def _is_rtx_capability(cap: RTCRtpCodecCapability) -> bool:
    return cap.mimeType.lower().endswith("/rtx")


# --- DTLS transport: counting what aiortc drops silently ----------------------------------


def _send_via(transport_of: Callable[[], RTCDtlsTransport]) -> Callable[[bytes], Awaitable[bool]]:
    async def send(data: bytes) -> bool:
        transport = transport_of()
        if transport.state != "connected":
            return False
        try:
            await transport._send_rtp(data)
        except ConnectionError:
            return False
        return True

    return send


PYLIBSRTP_VERSION: Final = "1.0.0"
_srtp_binding: Any = importlib.import_module("pylibsrtp._binding")  # compiled (cffi), no stubs
_srtp_ffi: Any = _srtp_binding.ffi
_srtp_lib: Any = _srtp_binding.lib
# libsrtp's srtp_protect(srtp_t, void *, int *) as a C function pointer, for sfu._native
_SRTP_PROTECT: Any = _srtp_binding.lib.srtp_protect
_SRTP_PROTECT_TYPE: Final = "<ctype 'srtp_err_status_t(*)(struct srtp_ctx_t_ *, void *, int *)'>"


class LeanProtect:
    """``pylibsrtp.Session.protect`` without its per-call allocation and checks.

    pylibsrtp copies each packet into the session's 1,500-byte buffer, protects it in place and
    copies the result out; around that it allocates a length cell and checks its argument on
    every call (about a third of the cost of a protect). This does the same with one length
    cell allocated up front. Only with the pylibsrtp version it was written against (the
    contract test checks the code it mirrors); otherwise, and for packets too long for the
    buffer, it is ``session.protect`` itself.
    """

    __slots__ = ("_buffer", "_cdata", "_ctx", "_length", "_limit", "_session")

    def __init__(self, session: Any) -> None:
        self._session = session  # keeps the SRTP context alive
        self._ctx = session._srtp[0]
        self._cdata = session._cdata
        self._buffer = session._buffer
        self._length = _srtp_ffi.new("int *")
        self._limit = len(session._buffer) - pylibsrtp.SRTP_MAX_TRAILER_LEN

    @classmethod
    def of(cls, session: Any) -> Callable[[bytes], bytes]:
        if pylibsrtp.__version__ != PYLIBSRTP_VERSION:
            protect: Callable[[bytes], bytes] = session.protect
            return protect
        return cls(session)

    def __call__(self, data: bytes) -> bytes:
        size = len(data)
        if size > self._limit:
            protected: bytes = self._session.protect(data)  # raises its ValueError
            return protected
        self._buffer[0:size] = data
        self._length[0] = size
        if _srtp_lib.srtp_protect(self._ctx, self._cdata, self._length):
            raise pylibsrtp.Error("srtp_protect failed")
        result: bytes = self._buffer[0 : self._length[0]]
        return result


def native_target(fd: int, address: tuple[str, int] | Any, session: pylibsrtp.Session) -> NativeTarget:
    """Send on socket ``fd`` to ``address`` (numeric host, port), protected by ``session``."""
    return NativeTarget(
        fd=fd,
        host=address[0],
        port=address[1],
        srtp_ctx=int(_srtp_ffi.cast("uintptr_t", session._srtp[0])),
        protect=int(_srtp_ffi.cast("uintptr_t", _SRTP_PROTECT)),
        owner=session,
    )


class DirectRtpSender:
    """Sends RTP synchronously: SRTP-protect, then ``sendto`` on the nominated ICE pair's socket.

    aiortc's ``_send_rtp`` is a chain of four coroutines (DTLS transport, ICE transport, aioice
    connection, STUN protocol) per packet; the forwarding path sends one packet per subscriber
    per upstream packet and awaits none of them, so it writes to the datagram transport itself.
    The SRTP session, the datagram transport and the remote address are looked up once, after
    DTLS is up. The DTLS transport's own packet counters (its ``getStats``) do not count these.
    """

    __slots__ = ("_addr", "_datagram", "_dtls", "_protect", "_sendto", "_transport_of")

    def __init__(self, transport_of: Callable[[], RTCDtlsTransport]) -> None:
        self._transport_of = transport_of
        self._dtls: RTCDtlsTransport | None = None
        self._protect: Callable[[bytes], bytes] | None = None
        self._sendto: Callable[[bytes, Any], None] | None = None
        self._datagram: Any = None
        self._addr: Any = None

    def __call__(self, data: bytes) -> bool:
        dtls = self._dtls
        if (
            dtls is None or dtls._state is not _DTLS_CONNECTED or self._sendto is None
        ) and not self._resolve():
            return False
        assert self._protect is not None and self._sendto is not None
        self._sendto(self._protect(data), self._addr)
        return True

    def connected(self) -> bool:
        """Packets can be sent now: the transport is connected (what C sends on stays valid)."""
        dtls = self._dtls
        if dtls is not None and dtls._state is _DTLS_CONNECTED and not self._datagram.is_closing():
            return True
        return self._resolve()

    def native_target(self) -> NativeTarget | None:
        """The socket, address and SRTP context for the C fan-out; ``None`` while not connected.

        Only with the pylibsrtp version :class:`LeanProtect` was written against: the context
        is the session's own ``srtp_t`` and ``protect`` the address of libsrtp's
        ``srtp_protect`` in pylibsrtp's binding.
        """
        if not self.connected():
            return None
        if pylibsrtp.__version__ != PYLIBSRTP_VERSION or self._dtls is None:
            return None
        session = self._dtls._tx_srtp
        socket = self._datagram.get_extra_info("socket")
        if session is None or socket is None:
            return None
        return native_target(socket.fileno(), self._addr, session)

    def _resolve(self) -> bool:
        self._dtls = self._protect = self._sendto = self._datagram = None
        dtls = self._transport_of()
        if dtls is None or dtls._state is not _DTLS_CONNECTED or dtls._tx_srtp is None:
            return False
        pair = dtls.transport._connection._nominated.get(1)
        datagram = getattr(getattr(pair, "protocol", None), "transport", None)
        if pair is None or datagram is None or datagram.is_closing():
            return False
        self._dtls = dtls
        self._datagram = datagram
        self._protect = LeanProtect.of(dtls._tx_srtp)
        self._sendto = datagram.sendto
        self._addr = pair.remote_addr
        return True


def guard_transport(transport: RTCDtlsTransport) -> None:
    """Replace the transport's packet demultiplexers with counting, never-raising versions.

    aiortc's own versions only catch ``ValueError``; a header extension of the wrong length
    raises ``struct.error`` and would end the transport's receive loop.
    """
    if getattr(transport, "_venuekit_guarded", False):
        return

    async def handle_rtp_data(data: bytes, arrival_time_ms: int) -> None:
        arrival = time.monotonic()
        try:
            packet = RtpPacket.parse(data, transport._rtp_header_extensions_map)
        except Exception:
            metrics.dropped("malformed_rtp")
            return
        receiver = transport._rtp_router.route_rtp(packet)
        if receiver is None:
            metrics.dropped("unknown_ssrc")
            return
        tap: ReceiverTap | None = getattr(receiver, "_venuekit_tap", None)
        if tap is not None:
            await tap.sink.on_rtp(packet, arrival)
        else:
            await receiver._handle_rtp_packet(packet, arrival_time_ms=arrival_time_ms)

    async def handle_rtcp_data(data: bytes) -> None:
        try:
            packets = RtcpPacket.parse(data)
        except Exception:
            metrics.dropped("malformed_rtcp")
            return
        for packet in packets:
            try:
                recipients = transport._rtp_router.route_rtcp(packet)
            except Exception:  # REMB with a lying SSRC count raises struct.error
                metrics.dropped("malformed_rtcp")
                continue
            for recipient in recipients:
                await recipient._handle_rtcp_packet(packet)

    transport._handle_rtp_data = handle_rtp_data  # type: ignore[method-assign]
    transport._handle_rtcp_data = handle_rtcp_data  # type: ignore[method-assign]
    transport._venuekit_guarded = True  # type: ignore[attr-defined]


# --- inbound: receivers of published tracks ----------------------------------------------


class InboundSink(Protocol):
    async def on_rtp(self, packet: RtpPacket, arrival: float) -> None: ...
    def on_rtcp(self, packet: AnyRtcpPacket) -> None: ...
    def on_receive(self, ssrc: int | None, rtx_ssrc: int | None) -> None: ...
    def on_stop(self) -> None: ...


class ReceiverTap:
    """A receiver that forwards packets to an :class:`InboundSink` instead of decoding them."""

    def __init__(self, transceiver: RTCRtpTransceiver, sink: InboundSink) -> None:
        self.transceiver = transceiver
        self.receiver: RTCRtpReceiver = transceiver.receiver
        self.sink = sink
        self.started = False
        self.send_rtcp = _send_via(lambda: self.receiver.transport)
        # The SSRC the SFU's RTCP on this m-section is sent from (aiortc uses the sender's).
        self.rtcp_ssrc: int = transceiver.sender._ssrc

    async def receive(self, parameters: RTCRtpReceiveParameters) -> None:
        if self.started:
            return
        self.started = True
        transport = self.receiver.transport
        guard_transport(transport)
        transport._register_rtp_receiver(self.receiver, parameters)
        ssrc = rtx_ssrc = None
        for encoding in parameters.encodings:
            ssrc = encoding.ssrc
            if encoding.rtx is not None:
                rtx_ssrc = encoding.rtx.ssrc
                # aiortc routes RTX by payload type alone; with two video tracks that is ambiguous.
                transport._rtp_router.ssrc_table[rtx_ssrc] = self.receiver
        self.sink.on_receive(ssrc, rtx_ssrc)

    async def stop(self) -> None:
        if self.started:
            self.started = False
            self.receiver.transport._unregister_rtp_receiver(self.receiver)
        track = self.receiver.track
        if track is not None:
            track.stop()
        self.sink.on_stop()

    async def handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        await self.sink.on_rtp(packet, time.monotonic())

    async def handle_rtcp_packet(self, packet: AnyRtcpPacket) -> None:
        self.sink.on_rtcp(packet)


def tap_receiver(transceiver: RTCRtpTransceiver, sink: InboundSink) -> ReceiverTap:
    """Take over a transceiver's receiver before aiortc starts it (right after
    ``setRemoteDescription``, with no ``await`` in between)."""
    tap = ReceiverTap(transceiver, sink)
    receiver = transceiver.receiver
    receiver.receive = tap.receive  # type: ignore[method-assign]
    receiver.stop = tap.stop  # type: ignore[method-assign]
    receiver._handle_rtp_packet = tap.handle_rtp_packet  # type: ignore[method-assign]
    receiver._handle_rtcp_packet = tap.handle_rtcp_packet  # type: ignore[method-assign]
    receiver._venuekit_tap = tap  # type: ignore[attr-defined]
    return tap


# --- outbound: senders of subscriber slots -------------------------------------------------


class OutboundSink(Protocol):
    def on_send(self, params: DownstreamParams) -> None: ...
    async def on_rtcp(self, packet: AnyRtcpPacket) -> None: ...
    def on_stop(self) -> None: ...


class SenderTap:
    """A sender whose packets come from the forwarder instead of an encoder."""

    def __init__(self, transceiver: RTCRtpTransceiver, sink: OutboundSink) -> None:
        self.transceiver = transceiver
        self.sender: RTCRtpSender = transceiver.sender
        self.sink = sink
        self.started = False
        self.ssrc: int = self.sender._ssrc
        self.rtx_ssrc: int = self.sender._rtx_ssrc
        self.send_rtp = _send_via(lambda: self.sender.transport)
        # The forwarding path's synchronous RTP send (see DirectRtpSender).
        self.send_rtp_now = DirectRtpSender(lambda: self.sender.transport)

    async def send(self, parameters: RTCRtpSendParameters) -> None:
        if self.started:
            return
        self.started = True
        transport = self.sender.transport
        guard_transport(transport)
        transport._register_rtp_sender(self.sender, parameters)
        params = DownstreamParams(
            kind=self.sender.kind,
            mid=parameters.muxId,
            ssrc=self.ssrc,
            rtx_ssrc=self.rtx_ssrc,
            cname=parameters.rtcp.cname,
            codecs=codecs_from_aiortc(parameters.codecs),
            extensions=tuple((ext.uri, ext.id) for ext in parameters.headerExtensions),
        )
        self.sink.on_send(params)

    async def stop(self) -> None:
        if self.started:
            self.started = False
            transport = self.sender.transport
            transport._unregister_rtp_sender(self.sender)
            await self.send_rtp(bytes(RtcpByePacket(sources=[self.ssrc])))
        self.sink.on_stop()

    async def handle_rtcp_packet(self, packet: AnyRtcpPacket) -> None:
        await self.sink.on_rtcp(packet)


def tap_sender(transceiver: RTCRtpTransceiver, sink: OutboundSink) -> SenderTap:
    """Take over a transceiver's sender before the first negotiation that includes it."""
    tap = SenderTap(transceiver, sink)
    sender = transceiver.sender
    sender.send = tap.send  # type: ignore[method-assign]
    sender.stop = tap.stop  # type: ignore[method-assign]
    sender._handle_rtcp_packet = tap.handle_rtcp_packet  # type: ignore[method-assign]
    return tap


def transceiver_mid(transceiver: RTCRtpTransceiver) -> str | None:
    return transceiver.mid


def set_transceiver_direction(transceiver: RTCRtpTransceiver, direction: str) -> None:
    transceiver.direction = direction


# --- the contract ---------------------------------------------------------------------------

# (owner, attribute, parameter names or None for a plain attribute) relied on above.
RELIED_ON: Final[tuple[tuple[str, str, tuple[str, ...] | None], ...]] = (
    ("RTCRtpReceiver", "receive", ("self", "parameters")),
    ("RTCRtpReceiver", "stop", ("self",)),
    ("RTCRtpReceiver", "_handle_rtp_packet", ("self", "packet", "arrival_time_ms")),
    ("RTCRtpReceiver", "_handle_rtcp_packet", ("self", "packet")),
    ("RTCRtpReceiver", "_handle_disconnect", ("self",)),
    ("RTCRtpSender", "send", ("self", "parameters")),
    ("RTCRtpSender", "stop", ("self",)),
    ("RTCRtpSender", "_handle_rtcp_packet", ("self", "packet")),
    ("RTCDtlsTransport", "_send_rtp", ("self", "data")),
    ("RTCDtlsTransport", "_handle_rtp_data", ("self", "data", "arrival_time_ms")),
    ("RTCDtlsTransport", "_handle_rtcp_data", ("self", "data")),
    ("RTCDtlsTransport", "_register_rtp_receiver", ("self", "receiver", "parameters")),
    ("RTCDtlsTransport", "_unregister_rtp_receiver", ("self", "receiver")),
    ("RTCDtlsTransport", "_register_rtp_sender", ("self", "sender", "parameters")),
    ("RTCDtlsTransport", "_unregister_rtp_sender", ("self", "sender")),
    ("RtpRouter", "route_rtp", ("self", "packet")),
    ("RtpRouter", "route_rtcp", ("self", "packet")),
)


def contract_violations() -> list[str]:
    """What no longer matches the aiortc internals this module relies on (empty when fine)."""
    owners: dict[str, Any] = {
        "RTCRtpReceiver": RTCRtpReceiver,
        "RTCRtpSender": RTCRtpSender,
        "RTCDtlsTransport": RTCDtlsTransport,
        "RtpRouter": RtpRouter,
    }
    problems: list[str] = []
    if aiortc.__version__ != AIORTC_VERSION:
        problems.append(f"aiortc version {aiortc.__version__} != {AIORTC_VERSION}")
    for owner_name, attr, params in RELIED_ON:
        member = getattr(owners[owner_name], attr, None)
        if member is None:
            problems.append(f"{owner_name}.{attr} is missing")
            continue
        if params is not None:
            found = tuple(inspect.signature(member).parameters)
            if found != params:
                problems.append(f"{owner_name}.{attr}{found} != {params}")
    protect_type = str(_srtp_ffi.typeof(_SRTP_PROTECT))
    if protect_type != _SRTP_PROTECT_TYPE:  # the C fan-out calls it with this signature
        problems.append(f"pylibsrtp srtp_protect is {protect_type}, not {_SRTP_PROTECT_TYPE}")
    return problems
