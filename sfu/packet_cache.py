"""A bounded cache of recently forwarded packets of one published track, for answering NACKs.

A ring of ``capacity`` slots (a power of two that divides 2**16) indexed by the 16-bit sequence
number, so a sequence number maps to one slot whatever its wrap count; a slot's packet is
returned only when its extended sequence number is still within the window behind the newest.
Memory is bounded by ``capacity`` packets.

Pure: no I/O.
"""

from __future__ import annotations

from typing import Final

from aiortc.rtp import RtpPacket

from sfu.seqnum import SEQ_BITS, Unwrapper

DEFAULT_VIDEO_CAPACITY: Final = 1024
DEFAULT_AUDIO_CAPACITY: Final = 128


class PacketCache:
    __slots__ = ("_capacity", "_slots", "_unwrap")

    def __init__(self, capacity: int = DEFAULT_VIDEO_CAPACITY) -> None:
        if capacity <= 0 or capacity & (capacity - 1) or capacity > 1 << 15:
            raise ValueError("capacity must be a power of two between 1 and 32768")
        self._capacity = capacity
        self._slots: list[tuple[int, RtpPacket] | None] = [None] * capacity
        self._unwrap = Unwrapper(SEQ_BITS)

    @property
    def capacity(self) -> int:
        return self._capacity

    def __len__(self) -> int:
        return sum(1 for slot in self._slots if slot is not None and self._in_window(slot[0]))

    def _in_window(self, extended: int) -> bool:
        highest = self._unwrap.highest
        return highest is not None and 0 <= highest - extended < self._capacity

    def put(self, packet: RtpPacket) -> None:
        """Remember ``packet`` (an upstream packet, as received); older ones fall out."""
        extended = self._unwrap.unwrap(packet.sequence_number)
        if not self._in_window(extended):
            return  # older than the whole window
        self._slots[extended & (self._capacity - 1)] = (extended, packet)

    def get(self, sequence_number: int) -> RtpPacket | None:
        """The cached packet with this upstream sequence number, if still in the window."""
        if self._unwrap.highest is None:
            return None
        extended = self._unwrap.peek(sequence_number)
        if not self._in_window(extended):
            return None
        slot = self._slots[extended & (self._capacity - 1)]
        if slot is None or slot[0] != extended:
            return None
        return slot[1]

    def clear(self) -> None:
        self._slots = [None] * self._capacity
        self._unwrap = Unwrapper(SEQ_BITS)
