"""The C fan-out (``sfu._native``) against the Python path it stands in for.

The munger must make the same decisions as :class:`~sfu.munger.RtpMunger` for any sequence of
packets, resyncs and lookups; a copy written in C must be the bytes
:class:`~sfu.rtp_write.HeaderWriter` writes; and ``fan_out`` must deliver those bytes, SRTP
protected with the subscriber's context, on real sockets, counting what it sent, what was stale
and what it left to Python.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiortc.rtp import RtpPacket
from hypothesis import given, settings
from hypothesis import strategies as st
from pylibsrtp import Policy, Session

from sfu import _native
from sfu.aiortc_glue import native_target
from sfu.fastpath import NATIVE, FanOutResult, PyLane, arm, fan_out_packet, new_lane, new_munger
from sfu.munger import RtpMunger
from sfu.rtp_write import HeaderWriter, Outgoing
from tests.sfu.test_rtp_write import URIS, WRITER_CASES

SHARE, BURST = 0.25, 48_000.0


def test_the_extension_is_built() -> None:
    # scripts/setup builds it (gcc and the Python headers are part of the supported machine);
    # without it the SFU still works, through the Python path, but several times slower.
    assert NATIVE


# --- the munger ----------------------------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("munge"),
            st.sampled_from(["a", "b", ("t", 1), ("t", 2)]),
            st.integers(-5, 0x1_0004),  # out of range on purpose: both mask
            st.integers(0, 0xFFFF_FFFF),
            st.floats(0, 1e6, allow_nan=False),
        ),
        st.tuples(st.just("step"), st.integers(-40, 400), st.integers(-3000, 90_000), st.floats(0, 2)),
        st.tuples(st.just("resync")),
        st.tuples(st.just("translate"), st.integers(0, 0xFFFF_FFFF)),
        st.tuples(st.just("original"), st.integers(0, 0xFFFF)),
    ),
    max_size=60,
)


@settings(max_examples=300)
@given(
    ops=operations,
    first_seq=st.integers(0, 0xFFFF),
    first_ts=st.integers(0, 0xFFFF_FFFF),
    clock_rate=st.sampled_from([8000, 48000, 90000]),
)
def test_the_c_munger_decides_as_the_python_one(
    ops: list[tuple[Any, ...]], first_seq: int, first_ts: int, clock_rate: int
) -> None:
    py = RtpMunger(clock_rate, first_sequence_number=first_seq, first_timestamp=first_ts)
    c = _native.Munger(clock_rate, first_sequence_number=first_seq, first_timestamp=first_ts)
    source: object = "a"
    seq, ts, now = 100, 1000, 10.0
    for op in ops:
        if op[0] == "munge":
            source, seq, ts, now = op[1], int(op[2]), int(op[3]), float(op[4])
            assert c.munge_fast(source, seq, ts, now) == py.munge_fast(source, seq, ts, now)
            assert c.newest == py.newest
        elif op[0] == "step":  # the same source moving on (most packets look like this)
            seq, ts, now = seq + int(op[1]), ts + int(op[2]), now + float(op[3])
            assert c.munge_fast(source, seq, ts, now) == py.munge_fast(source, seq, ts, now)
            assert c.newest == py.newest
        elif op[0] == "resync":
            c.resync()
            py.resync()
        elif op[0] == "translate":
            assert c.translate_timestamp(int(op[1])) == py.translate_timestamp(int(op[1]))
        else:
            assert c.original_sequence_number(int(op[1])) == py.original_sequence_number(int(op[1]))
        assert (c.started, c.last_sequence_number, c.last_timestamp, c.last_time, c.source) == (
            py.started,
            py.last_sequence_number,
            py.last_timestamp,
            py.last_time,
            py.source,
        )


def test_munger_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="clock_rate"):
        _native.Munger(0, first_sequence_number=0, first_timestamp=0)
    m = _native.Munger(90000, first_sequence_number=0, first_timestamp=0)
    with pytest.raises(TypeError):
        m.munge_fast("a", "1", 2, 0.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        m.munge_fast("a", 1, 2)  # type: ignore[call-arg]
    with pytest.raises(OverflowError):
        m.munge_fast("a", 1 << 80, 2, 0.0)


# --- wiring a lane to real sockets and SRTP -------------------------------------------------------


def sessions() -> tuple[Session, Session]:
    key = os.urandom(30)  # AES_CM_128_HMAC_SHA1_80: 16-byte key, 14-byte salt
    tx = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND))
    rx = Session(policy=Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND))
    return tx, rx


class Receiver:
    """A subscriber's socket on loopback and the matching SRTP receive session."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2)
        self.tx, self.rx = sessions()

    def take(self) -> bytes:
        return self.rx.unprotect(self.sock.recv(4096))

    def nothing_waiting(self) -> bool:
        self.sock.setblocking(False)
        try:
            self.sock.recv(4096)
        except BlockingIOError:
            return True
        finally:
            self.sock.settimeout(2)
        return False


@pytest.fixture
def sender() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    made = [Receiver() for _ in range(3)]
    yield made
    for r in made:
        r.sock.close()


def armed_lane(
    sender: socket.socket, receiver: Receiver, writer: HeaderWriter, pt_map: dict[int, int]
) -> _native.Lane:
    munger = new_munger(90000)
    lane = new_lane(munger, SHARE, BURST)
    assert isinstance(lane, _native.Lane)
    assert arm(
        lane,
        native_target(sender.fileno(), receiver.sock.getsockname(), receiver.tx),
        writer.native_header,
        pt_map,
    )
    assert lane.armed
    return lane


def fan_out(lanes: list[Any], packet: RtpPacket, source: object, now: float, sample: int = 0) -> FanOutResult:
    return fan_out_packet(lanes, Outgoing(packet, 1.7e9 + now), source, now, sample)


def vp8(seq: int, ts: int, size: int = 1100) -> RtpPacket:
    return RtpPacket(
        payload_type=96,
        sequence_number=seq,
        timestamp=ts,
        ssrc=1234,
        payload=bytes(range(256)) * (size // 256) + b"x" * (size % 256),
    )


@settings(max_examples=200, deadline=None)
@given(**WRITER_CASES)
def test_c_writes_the_bytes_the_python_writer_writes(
    packet: RtpPacket,
    ids: list[int],
    present: list[bool],
    mid: str | None,
    pt: int,
    seq: int,
    ts: int,
    ssrc: int,
    wallclock: float,
) -> None:
    extensions = tuple((uri, i) for uri, i, on in zip(URIS, ids, present, strict=True) if on)
    writer = HeaderWriter(ssrc, mid, extensions)
    out = Outgoing(packet, wallclock)
    lane = _native.Lane(_native.Munger(90000, first_sequence_number=0, first_timestamp=0), SHARE, BURST)
    tx, _ = sessions()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        arm(lane, native_target(sock.fileno(), ("127.0.0.1", 9), tx), writer.native_header, {})
        lane.disarm()  # the header stays; nothing is sent here
    written = _native.write_packet(
        lane, pt, seq, ts, out.byte0, out.marker, out.csrc, out.tail, out.abs3, out.toffset, out.level
    )
    assert written == writer.write(out, pt, seq, ts)


def test_fan_out_sends_protected_copies_and_counts(sender: socket.socket, receivers: list[Receiver]) -> None:
    writers = [HeaderWriter(1000 + i, str(i), ((URIS[0], 1), (URIS[1], 3))) for i in range(3)]
    lanes: list[object] = [
        armed_lane(sender, r, w, {96: 100 + i})
        for i, (r, w) in enumerate(zip(receivers, writers, strict=True))
    ]
    python_copy = PyLane(SHARE, BURST)  # a copy Python sends: left to it
    lanes.insert(1, python_copy)
    first = vp8(65530, 3_000_000)
    sent, sent_bytes, stale, failed, skipped, sample_time = fan_out(lanes, first, "src", 5.0, sample=2)
    assert (sent, stale, failed, skipped) == (3, 0, 0, [1])
    assert sample_time > 0  # the copy at index 2 left from C
    outs = []
    for i, receiver in enumerate(receivers):
        got = RtpPacket.parse(receiver.take())
        assert (got.ssrc, got.payload_type, got.payload) == (1000 + i, 100 + i, first.payload)
        outs.append((got.sequence_number, got.timestamp))
    assert sent_bytes == 3 * (
        12 + 4 + 8 + len(first.payload)
    )  # header, extension block (mid + abs-send-time)
    # the next packets continue each copy's own numbering, across the upstream wraparound
    for step in range(1, 12):
        packet = vp8((65530 + step) & 0xFFFF, 3_000_000 + 3000 * step)
        assert fan_out(lanes, packet, "src", 5.0 + step / 30)[0] == 3
        for i, receiver in enumerate(receivers):
            got = RtpPacket.parse(receiver.take())
            assert got.sequence_number == (outs[i][0] + step) & 0xFFFF
            assert got.timestamp == (outs[i][1] + 3000 * step) & 0xFFFF_FFFF
    lane = lanes[0]
    assert isinstance(lane, _native.Lane)
    assert (lane.packets, lane.packets_sent, lane.octets) == (12, 12, 12 * len(first.payload))
    assert lane.last_timestamp == (outs[0][1] + 3000 * 11) & 0xFFFF_FFFF
    assert lane.rtx_tokens == BURST  # full: the budget is capped at the burst
    # an old packet, from before the segment started: stale, nothing sent
    assert fan_out(lanes, vp8(65000, 1), "src", 6.0)[:4] == (0, 0, 3, 0)
    assert all(r.nothing_waiting() for r in receivers)
    # a payload type a subscriber did not negotiate: left to Python, which counts the mismatch
    assert fan_out(lanes, RtpPacket(payload_type=97, sequence_number=1), "src", 6.0)[4] == [0, 1, 2, 3]
    # a disarmed lane goes back to Python; the others go on
    assert isinstance(lanes[2], _native.Lane)
    lanes[2].disarm()
    assert fan_out(lanes, vp8(12, 3_000_000 + 3000 * 18), "src", 7.0)[4] == [1, 2]


def test_a_lane_keeps_its_own_socket(sender: socket.socket, receivers: list[Receiver]) -> None:
    """The ICE socket closing cannot make a lane write to a reused descriptor: it has its own."""
    lane = armed_lane(sender, receivers[0], HeaderWriter(7, None, ()), {96: 96})
    sender.close()
    replacement = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # likely gets the old number
    try:
        assert fan_out([lane], vp8(1, 1), "s", 1.0)[:4] == (1, 1112, 0, 0)
        assert RtpPacket.parse(receivers[0].take()).ssrc == 7
    finally:
        replacement.close()
    lane.disarm()
    assert not lane.armed
    assert fan_out([lane], vp8(2, 2), "s", 1.1)[4] == [0]


def test_a_refused_send_is_counted_not_raised(receivers: list[Receiver]) -> None:
    local = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # cannot send to an IP address
    try:
        lane = armed_lane(local, receivers[0], HeaderWriter(7, None, ()), {96: 96})
        sent, _, _, failed, skipped, _ = fan_out([lane], vp8(1, 1), "s", 1.0)
        assert (sent, failed, skipped) == (0, 1, None)
        assert lane.send_failures == 1
    finally:
        local.close()


def test_too_long_packets_are_left_to_python(sender: socket.socket, receivers: list[Receiver]) -> None:
    lane = armed_lane(sender, receivers[0], HeaderWriter(7, None, ()), {96: 96})
    assert fan_out([lane], vp8(1, 1, size=_native.MAX_RTP_LEN), "s", 1.0)[4] == [0]
    assert lane.packets == 0


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((7, b"", 0, 0, 0, {96: 96}, -1, "127.0.0.1", 9, 1, 1, None), OSError),  # a bad descriptor
        ((7, b"", 15, 0, 0, {}, 0, "127.0.0.1", 9, 1, 1, None), ValueError),  # not a one-byte id
        ((7, b"", 0, 0, 0, {128: 1}, 0, "127.0.0.1", 9, 1, 1, None), ValueError),
        ((7, b"", 0, 0, 0, {}, 0, "localhost", 9, 1, 1, None), ValueError),  # not numeric
        ((7, b"", 0, 0, 0, {}, 0, "127.0.0.1", 0, 1, 1, None), ValueError),
        ((7, b"", 0, 0, 0, {}, 0, "127.0.0.1", 9, 0, 1, None), ValueError),  # no SRTP context
        ((7, b"x" * 18, 0, 0, 0, {}, 0, "127.0.0.1", 9, 1, 1, None), ValueError),
        ((1 << 32, b"", 0, 0, 0, {}, 0, "127.0.0.1", 9, 1, 1, None), ValueError),
    ],
)
def test_arm_refuses_bad_parameters(args: tuple[object, ...], error: type[Exception]) -> None:
    lane = _native.Lane(_native.Munger(90000, first_sequence_number=0, first_timestamp=0), SHARE, BURST)
    with pytest.raises(error):
        lane.arm(*args)  # type: ignore[arg-type]
    assert not lane.armed


@settings(max_examples=200)
@given(
    args=st.lists(
        st.one_of(
            st.none(), st.integers(-300, 1 << 40), st.binary(max_size=4), st.floats(), st.text(max_size=3)
        ),
        max_size=18,
    )
)
def test_fan_out_refuses_garbage_arguments_without_crashing(args: list[object]) -> None:
    with pytest.raises((TypeError, ValueError, OverflowError)):
        _native.fan_out(*args)  # type: ignore[arg-type]
