# Stubs for the C extension sfu/_native.c.
from collections.abc import Sequence
from typing import Final

MAX_RTP_LEN: Final[int]

class Munger:
    def __init__(self, clock_rate: int, *, first_sequence_number: int, first_timestamp: int) -> None: ...
    @property
    def started(self) -> bool: ...
    @property
    def last_sequence_number(self) -> int: ...
    @property
    def last_timestamp(self) -> int: ...
    @property
    def last_time(self) -> float | None: ...
    @property
    def source(self) -> object | None: ...
    @property
    def newest(self) -> bool: ...
    def munge_fast(
        self, source: object, sequence_number: int, timestamp: int, now: float
    ) -> tuple[int, int] | None: ...
    def resync(self) -> None: ...
    def translate_timestamp(self, timestamp: int) -> int | None: ...
    def original_sequence_number(self, out_sequence_number: int) -> int | None: ...

class Lane:
    packets: int
    octets: int
    packets_sent: int
    rtx_tokens: float
    def __init__(self, munger: Munger, rtx_share: float, rtx_burst: float) -> None: ...
    @property
    def send_failures(self) -> int: ...
    @property
    def armed(self) -> bool: ...
    @property
    def munger(self) -> Munger: ...
    @property
    def last_timestamp(self) -> int | None: ...
    @property
    def last_time(self) -> float | None: ...
    def arm(
        self,
        ssrc: int,
        mid_element: bytes,
        abs_id: int,
        toffset_id: int,
        level_id: int,
        pt_map: dict[int, int],
        fd: int,
        host: str,
        port: int,
        srtp_ctx: int,
        protect: int,
        owner: object,
        /,
    ) -> None: ...
    def disarm(self) -> None: ...
    def sent(
        self, payload_size: int, size: int, timestamp: int, wallclock: float, newest: bool, forwarded: bool, /
    ) -> None: ...

def fan_out(
    lanes: Sequence[Lane | object],
    payload_type: int,
    sequence_number: int,
    timestamp: int,
    byte0: int,
    marker: int,
    csrc: bytes,
    tail: bytes,
    payload_size: int,
    abs3: bytes,
    toffset: bytes | None,
    level: bytes | None,
    source: object,
    now: float,
    wallclock: float,
    sample: int,
    /,
) -> tuple[int, int, int, int, list[int] | None, float]: ...
def write_packet(
    lane: Lane,
    payload_type: int,
    sequence_number: int,
    timestamp: int,
    byte0: int,
    marker: int,
    csrc: bytes,
    tail: bytes,
    abs3: bytes | None,
    toffset: bytes | None,
    level: bytes | None,
    /,
) -> bytes: ...
