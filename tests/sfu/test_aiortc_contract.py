"""The aiortc internals sfu/aiortc_glue.py relies on. If this fails after an aiortc upgrade,
re-read aiortc's rtcrtpreceiver.py, rtcrtpsender.py, rtcdtlstransport.py and
rtcpeerconnection.py and adapt the glue before changing this test."""

from __future__ import annotations

import inspect
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aioice.ice
import aiortc
import pylibsrtp
import pytest
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCRtpTransceiver
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsTransport, RtpRouter
from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport
from aiortc.rtcpeerconnection import RTCPeerConnection
from aiortc.rtcrtpparameters import (
    RTCRtcpParameters,
    RTCRtpCodecParameters,
    RTCRtpDecodingParameters,
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
    RTCRtpRtxParameters,
    RTCRtpSendParameters,
)
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
    wrap_rtx,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from sfu import aiortc_glue as glue
from sfu.forwarder import DownstreamParams


def test_version_is_pinned() -> None:
    assert aiortc.__version__ == glue.AIORTC_VERSION == "1.16.0"
    glue.check_aiortc()


def test_every_relied_on_attribute_and_signature_is_there() -> None:
    assert glue.contract_violations() == []


def test_the_call_sites_the_taps_depend_on() -> None:
    """The instance-level replacements work only because aiortc calls these through ``self``/the
    object, on a later event-loop turn than ``setRemoteDescription``."""
    connect = inspect.getsource(RTCPeerConnection._RTCPeerConnection__connect)  # type: ignore[attr-defined]
    assert "await transceiver.sender.send(" in connect
    assert "await transceiver.receiver.receive(" in connect
    srd = inspect.getsource(RTCPeerConnection.setRemoteDescription)
    assert "asyncio.ensure_future(self.__connect())" in srd
    recv_next = inspect.getsource(RTCDtlsTransport._recv_next)
    assert "await self._handle_rtcp_data(data)" in recv_next
    assert "await self._handle_rtp_data(data, arrival_time_ms=arrival_time_ms)" in recv_next
    handle_rtp = inspect.getsource(RTCDtlsTransport._handle_rtp_data)
    assert "self._rtp_router.route_rtp(packet)" in handle_rtp
    assert "self._rtp_header_extensions_map" in handle_rtp
    handle_rtcp = inspect.getsource(RTCDtlsTransport._handle_rtcp_data)
    assert "recipient._handle_rtcp_packet(packet)" in handle_rtcp
    route_rtcp = inspect.getsource(RtpRouter.route_rtcp)
    assert "self.senders.get(packet.media_ssrc)" in route_rtcp
    # the decoder thread we avoid is started by receive(), not by the constructor
    assert "decoder_worker" in inspect.getsource(RTCRtpReceiver.receive)
    assert "threading.Thread(" not in inspect.getsource(RTCRtpReceiver.__init__)
    # the RTCP SSRC of a receiver is its transceiver's sender SSRC
    create = inspect.getsource(RTCPeerConnection._RTCPeerConnection__createTransceiver)  # type: ignore[attr-defined]
    assert "transceiver.receiver._set_rtcp_ssrc(transceiver.sender._ssrc)" in create
    # transceivers keep the negotiated codec list here
    assert "transceiver._codecs = common" in srd
    # host candidates come from this function, looked up at call time
    assert list(inspect.signature(aioice.ice.get_host_addresses).parameters) == ["use_ipv4", "use_ipv6"]
    assert "get_host_addresses(" in inspect.getsource(aioice.ice.Connection.gather_candidates)


async def test_instance_attributes() -> None:
    transport = RTCDtlsTransport(
        RTCIceTransport(RTCIceGatherer(iceServers=[])), [RTCCertificate.generateCertificate()]
    )
    assert isinstance(transport._rtp_router, RtpRouter)
    assert isinstance(transport._rtp_router.ssrc_table, dict)
    assert transport._rtp_header_extensions_map is not None
    sender = RTCRtpSender("video", transport)
    assert isinstance(sender._ssrc, int) and isinstance(sender._rtx_ssrc, int)
    receiver = RTCRtpReceiver("video", transport)
    transceiver = RTCRtpTransceiver("video", receiver, sender)
    assert transceiver._codecs == []
    await transport.stop()
    pc = RTCPeerConnection()
    # used by close_peer_connection when aiortc's close() fails half-way
    assert isinstance(pc._RTCPeerConnection__dtlsTransports, set)  # type: ignore[attr-defined]
    assert isinstance(pc._RTCPeerConnection__iceTransports, set)  # type: ignore[attr-defined]
    await pc.close()


# --- the taps against a real (unconnected) DTLS transport ------------------------------------

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
RTX = RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000, payloadType=98, parameters={"apt": 97})


@dataclass
class Inbound:
    rtp: list[RtpPacket] = field(default_factory=list)
    rtcp: list[AnyRtcpPacket] = field(default_factory=list)
    received: list[tuple[int | None, int | None]] = field(default_factory=list)
    stopped: bool = False

    async def on_rtp(self, packet: RtpPacket, arrival: float) -> None:
        self.rtp.append(packet)

    def on_rtcp(self, packet: AnyRtcpPacket) -> None:
        self.rtcp.append(packet)

    def on_receive(self, ssrc: int | None, rtx_ssrc: int | None) -> None:
        self.received.append((ssrc, rtx_ssrc))

    def on_stop(self) -> None:
        self.stopped = True


@dataclass
class Outbound:
    params: list[DownstreamParams] = field(default_factory=list)
    rtcp: list[AnyRtcpPacket] = field(default_factory=list)
    stopped: bool = False

    def on_send(self, params: DownstreamParams) -> None:
        self.params.append(params)

    async def on_rtcp(self, packet: AnyRtcpPacket) -> None:
        self.rtcp.append(packet)

    def on_stop(self) -> None:
        self.stopped = True


@dataclass
class Rig:
    transport: RTCDtlsTransport
    inbound: Inbound
    outbound: Outbound
    receiver_tap: glue.ReceiverTap
    sender_tap: glue.SenderTap


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    transport = RTCDtlsTransport(
        RTCIceTransport(RTCIceGatherer(iceServers=[])), [RTCCertificate.generateCertificate()]
    )
    inbound, outbound = Inbound(), Outbound()
    recv_t = RTCRtpTransceiver("video", RTCRtpReceiver("video", transport), RTCRtpSender("video", transport))
    send_t = RTCRtpTransceiver("video", RTCRtpReceiver("video", transport), RTCRtpSender("video", transport))
    r_tap = glue.tap_receiver(recv_t, inbound)
    s_tap = glue.tap_sender(send_t, outbound)
    await recv_t.receiver.receive(
        RTCRtpReceiveParameters(
            codecs=[VP8, RTX],
            muxId="0",
            encodings=[
                RTCRtpDecodingParameters(ssrc=1234, payloadType=97, rtx=RTCRtpRtxParameters(ssrc=5678))
            ],
        )
    )
    await send_t.sender.send(
        RTCRtpSendParameters(
            codecs=[VP8, RTX],
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid")
            ],
            muxId="4",
            rtcp=RTCRtcpParameters(cname="sfu"),
        )
    )
    yield Rig(transport, inbound, outbound, r_tap, s_tap)
    await recv_t.receiver.stop()
    await send_t.sender.stop()
    await transport.stop()


def dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("venuekit_sfu_dropped_packets_total", {"reason": reason}) or 0.0


async def test_receiver_tap_gets_packets_without_decoder(rig: Rig) -> None:
    assert rig.inbound.received == [(1234, 5678)]
    assert rig.receiver_tap.receiver._RTCRtpReceiver__decoder_thread is None  # type: ignore[attr-defined]
    assert rig.receiver_tap.rtcp_ssrc == rig.receiver_tap.transceiver.sender._ssrc
    media = RtpPacket(payload_type=97, sequence_number=1, timestamp=2, ssrc=1234, payload=b"\x10\x00")
    await rig.transport._handle_rtp_data(media.serialize(), arrival_time_ms=0)
    # RTX is routed by its SSRC (registered by the tap), not by payload type alone
    rtx = wrap_rtx(media, payload_type=98, sequence_number=9, ssrc=5678)
    await rig.transport._handle_rtp_data(rtx.serialize(), arrival_time_ms=0)
    assert [(p.ssrc, p.payload_type) for p in rig.inbound.rtp] == [(1234, 97), (5678, 98)]
    sr = RtcpSrPacket(ssrc=1234, sender_info=RtcpSenderInfo(1, 2, 3, 4))
    await rig.transport._handle_rtcp_data(bytes(sr))
    assert rig.inbound.rtcp == [sr]


async def test_sender_tap_reports_parameters_and_gets_its_rtcp(rig: Rig) -> None:
    (params,) = rig.outbound.params
    assert (params.mid, params.ssrc, params.rtx_ssrc, params.cname) == (
        "4",
        rig.sender_tap.ssrc,
        rig.sender_tap.rtx_ssrc,
        "sfu",
    )
    assert [(c.name, c.payload_type, c.rtx_payload_type) for c in params.codecs] == [("VP8", 97, 98)]
    assert params.extensions == (("urn:ietf:params:rtp-hdrext:sdes:mid", 1),)
    pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=rig.sender_tap.ssrc)
    await rig.transport._handle_rtcp_data(bytes(pli))
    assert rig.outbound.rtcp == [pli]
    # not connected: writes are refused, not raised
    assert await rig.sender_tap.send_rtp(b"\x80" * 20) is False
    assert rig.sender_tap.send_rtp_now(b"\x80" * 20) is False


def test_the_send_chain_direct_rtp_sender_short_cuts() -> None:
    """``DirectRtpSender`` does what ``RTCDtlsTransport._send_rtp`` and the aioice layers below
    it do (protect with ``_tx_srtp``, then ``sendto`` on the nominated pair's datagram transport)
    and checks the state the way it does; if any of these moves, the shortcut must too."""
    send_rtp = inspect.getsource(RTCDtlsTransport._send_rtp)
    assert "if self._state != State.CONNECTED:" in send_rtp
    assert "data = self._tx_srtp.protect(data)" in send_rtp
    assert "await self.transport._send(data)" in send_rtp
    assert "self._send = self._connection.send" in inspect.getsource(RTCIceTransport.__init__)
    sendto = inspect.getsource(aioice.ice.Connection.sendto)
    assert "active_pair = self._nominated.get(component)" in sendto
    assert "await active_pair.protocol.send_data(data, active_pair.remote_addr)" in sendto
    assert "self.transport.sendto(data, addr)" in inspect.getsource(aioice.ice.StunProtocol.send_data)
    assert glue._DTLS_CONNECTED.name == "CONNECTED"


def test_lean_protect_is_what_pylibsrtp_does() -> None:
    """``LeanProtect`` mirrors ``pylibsrtp.Session``'s private ``__process``: same buffer, same
    call; its output is accepted by an ordinary receiving session, packet after packet."""
    assert pylibsrtp.__version__ == glue.PYLIBSRTP_VERSION
    process = inspect.getsource(pylibsrtp.Session._Session__process)  # type: ignore[attr-defined]
    assert "self._buffer[0 : len(data)] = data" in process
    assert "_srtp_assert(func(self._srtp[0], self._cdata, len_p))" in process
    assert "return self._buffer[0 : len_p[0]]" in process
    assert 'self._cdata = ffi.new("char[]", 1500)' in inspect.getsource(pylibsrtp.Session.__init__)
    key = bytes(range(44))
    profile = pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM
    tx = pylibsrtp.Session(pylibsrtp.Policy(key, pylibsrtp.Policy.SSRC_ANY_OUTBOUND, profile))
    rx = pylibsrtp.Session(pylibsrtp.Policy(key, pylibsrtp.Policy.SSRC_ANY_INBOUND, profile))
    protect = glue.LeanProtect.of(tx)
    assert isinstance(protect, glue.LeanProtect)
    for seq, size in enumerate((0, 1, 100, 1200, 1000, 3)):
        packet = RtpPacket(payload_type=96, sequence_number=seq, timestamp=seq, ssrc=7, payload=b"x" * size)
        data = packet.serialize()
        protected = protect(data)
        assert protected != data
        assert rx.unprotect(protected) == data
    with pytest.raises(ValueError):
        protect(bytes(2000))


async def test_malformed_and_unclaimed_packets_are_counted(rig: Rig) -> None:
    malformed, unknown, bad_rtcp = (
        dropped("malformed_rtp"),
        dropped("unknown_ssrc"),
        dropped("malformed_rtcp"),
    )
    await rig.transport._handle_rtp_data(b"\x80\x61", arrival_time_ms=0)
    await rig.transport._handle_rtp_data(RtpPacket(payload_type=111, ssrc=42).serialize(), arrival_time_ms=0)
    # one-byte extension with an audio-level id but two bytes of value: aiortc raises struct.error
    await rig.transport._handle_rtp_data(_bad_extension_packet(rig.transport), arrival_time_ms=0)
    await rig.transport._handle_rtcp_data(b"\x80\xc8\x00\x10garbage")
    # a REMB claiming 5 SSRCs but carrying none: aiortc's router raises struct.error
    remb = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"REMB\x05\x00\x00\x01")
    await rig.transport._handle_rtcp_data(bytes(remb))
    assert dropped("malformed_rtp") == malformed + 2
    assert dropped("unknown_ssrc") == unknown + 1
    assert dropped("malformed_rtcp") == bad_rtcp + 2
    assert rig.inbound.rtp == []


def _bad_extension_packet(transport: RTCDtlsTransport) -> bytes:
    transport._rtp_header_extensions_map.configure(
        RTCRtpSendParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level")
            ]
        )
    )
    header = struct.pack("!BBHLL", 0x90, 97, 1, 0, 1234)
    ext = struct.pack("!HH", 0xBEDE, 1) + bytes([0x21, 0x01, 0x02, 0x00])  # id 2, length 2
    return header + ext + b"payload"


async def test_aiortc_alone_would_crash_on_the_bad_remb() -> None:
    """Why the transport guard exists (if this starts failing, aiortc fixed it upstream)."""
    router = RtpRouter()
    remb = RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=b"REMB\x05\x00\x00\x01")
    with pytest.raises(struct.error):
        router.route_rtcp(remb)


@settings(
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.binary(max_size=200), rtcp=st.booleans())
async def test_fuzz_the_demultiplexers(rig: Rig, data: bytes, rtcp: bool) -> None:
    if rtcp:
        await rig.transport._handle_rtcp_data(data)
    else:
        await rig.transport._handle_rtp_data(data, arrival_time_ms=0)


@settings(
    deadline=None,
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    header=st.tuples(
        st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
    ),
    tail=st.binary(max_size=100),
)
async def test_fuzz_rtp_with_valid_version_and_known_ssrc(
    rig: Rig, header: tuple[int, int, int, int], tail: bytes
) -> None:
    first, second, seq, ts = header
    data = struct.pack("!BBHLL", 0x80 | (first & 0x3F), second, seq, ts, 1234) + tail
    await rig.transport._handle_rtp_data(data, arrival_time_ms=0)


def test_host_address_restriction_roundtrips() -> None:
    original = aioice.ice.get_host_addresses
    glue.set_ice_host_addresses(["127.0.0.1", "::1"])
    try:
        assert aioice.ice.get_host_addresses(True, False) == ["127.0.0.1"]
        assert aioice.ice.get_host_addresses(True, True) == ["127.0.0.1", "::1"]
    finally:
        glue.set_ice_host_addresses(None)
    assert aioice.ice.get_host_addresses is original
