"""Coalescing chat items into per-channel batches over a short window: pure, driven by ``now_ms``.

A channel's batch opens with its first item and is due ``window_ms`` later, or at once when it
holds ``max_items``. ``now_ms`` must not go backwards (use a monotonic clock): batches then open
in insertion order, so the earliest deadline is always the first open batch.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(slots=True)
class _Open(Generic[T]):
    opened_ms: int
    items: list[T] = field(default_factory=list)


class Coalescer(Generic[K, T]):
    def __init__(self, *, window_ms: int, max_items: int) -> None:
        if window_ms < 0 or max_items < 1:
            raise ValueError("window_ms >= 0 and max_items >= 1")
        self.window_ms = window_ms
        self.max_items = max_items
        self._open: dict[K, _Open[T]] = {}
        self._full: set[K] = set()
        self._size = 0

    def add(self, key: K, items: Sequence[T], now_ms: int) -> None:
        if not items:
            return
        batch = self._open.get(key)
        if batch is None:
            batch = self._open[key] = _Open(now_ms)
        batch.items.extend(items)
        self._size += len(items)
        if len(batch.items) >= self.max_items:
            self._full.add(key)

    def next_due_ms(self) -> int | None:
        """When the next batch is due (possibly already past), ``None`` when nothing is open."""
        if self._full:
            return min(self._open[key].opened_ms for key in self._full)
        for batch in self._open.values():
            return batch.opened_ms + self.window_ms
        return None

    def take_due(self, now_ms: int) -> list[tuple[K, list[T]]]:
        """Close and return every batch due at ``now_ms``, oldest first.

        A batch longer than ``max_items`` is cut; its rest stays open and is due at once.
        """
        due: list[tuple[K, list[T]]] = []
        for key, batch in list(self._open.items()):
            if key not in self._full and batch.opened_ms + self.window_ms > now_ms:
                if not self._full:
                    break
                continue
            self._full.discard(key)
            head, rest = batch.items[: self.max_items], batch.items[self.max_items :]
            del self._open[key]
            self._size -= len(head)
            due.append((key, head))
            if rest:
                self._open[key] = _Open(batch.opened_ms, rest)
                self._full.add(key)
        return due

    def discard(self, key: K) -> None:
        batch = self._open.pop(key, None)
        if batch is not None:
            self._size -= len(batch.items)
        self._full.discard(key)

    def __len__(self) -> int:
        """Items held in open batches."""
        return self._size
