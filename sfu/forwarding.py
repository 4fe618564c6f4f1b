"""The forwarding table of one space: who publishes which track, who receives it.

Tracks belong to a publisher; a subscription links a subscriber to a track and carries the
subscriber's outgoing stream for it (``D``, a down-track in the node, anything in tests). The
hot path asks :meth:`ForwardingTable.targets` for a track's subscriptions; that tuple is rebuilt
only when subscriptions change. Invariants, kept by every method: a subscription's track
exists; nobody subscribes to their own track; removing a track or a participant removes every
subscription that depended on it.

Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

D = TypeVar("D")


class ForwardingError(LookupError):
    """A table operation that breaks an invariant: ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class TrackEntry(Generic[D]):
    track_id: str
    publisher_id: str
    kind: str
    subscriptions: dict[str, D] = field(default_factory=dict)
    targets: tuple[D, ...] = ()


class ForwardingTable(Generic[D]):
    def __init__(self) -> None:
        self._tracks: dict[str, TrackEntry[D]] = {}
        self._by_publisher: dict[str, set[str]] = {}
        self._by_subscriber: dict[str, set[str]] = {}

    # --- tracks -----------------------------------------------------------------------------

    def add_track(self, track_id: str, publisher_id: str, kind: str) -> None:
        if track_id in self._tracks:
            raise ForwardingError("track_exists", f"track {track_id!r} is already published")
        self._tracks[track_id] = TrackEntry(track_id, publisher_id, kind)
        self._by_publisher.setdefault(publisher_id, set()).add(track_id)

    def remove_track(self, track_id: str) -> dict[str, D]:
        """Remove a track; returns its subscriptions (subscriber id -> down-track), now gone."""
        entry = self._tracks.pop(track_id, None)
        if entry is None:
            return {}
        tracks = self._by_publisher.get(entry.publisher_id)
        if tracks is not None:
            tracks.discard(track_id)
            if not tracks:
                del self._by_publisher[entry.publisher_id]
        for subscriber_id in entry.subscriptions:
            self._drop_subscriber_index(subscriber_id, track_id)
        return dict(entry.subscriptions)

    def has_track(self, track_id: str) -> bool:
        return track_id in self._tracks

    def track(self, track_id: str) -> TrackEntry[D]:
        entry = self._tracks.get(track_id)
        if entry is None:
            raise ForwardingError("unknown_track", f"no track {track_id!r} is published")
        return entry

    def tracks(self) -> list[TrackEntry[D]]:
        return list(self._tracks.values())

    def tracks_of(self, publisher_id: str) -> frozenset[str]:
        return frozenset(self._by_publisher.get(publisher_id, ()))

    def publishers(self) -> frozenset[str]:
        return frozenset(self._by_publisher)

    # --- subscriptions ----------------------------------------------------------------------

    def subscribe(self, subscriber_id: str, track_id: str, down: D) -> None:
        entry = self.track(track_id)
        if entry.publisher_id == subscriber_id:
            raise ForwardingError("own_track", "a participant cannot subscribe to their own track")
        if subscriber_id in entry.subscriptions:
            raise ForwardingError("already_subscribed", f"already subscribed to track {track_id!r}")
        entry.subscriptions[subscriber_id] = down
        entry.targets = tuple(entry.subscriptions.values())
        self._by_subscriber.setdefault(subscriber_id, set()).add(track_id)

    def unsubscribe(self, subscriber_id: str, track_id: str) -> D:
        entry = self.track(track_id)
        down = entry.subscriptions.pop(subscriber_id, None)
        if down is None:
            raise ForwardingError("not_subscribed", f"not subscribed to track {track_id!r}")
        entry.targets = tuple(entry.subscriptions.values())
        self._drop_subscriber_index(subscriber_id, track_id)
        return down

    def subscription(self, subscriber_id: str, track_id: str) -> D:
        down = self.track(track_id).subscriptions.get(subscriber_id)
        if down is None:
            raise ForwardingError("not_subscribed", f"not subscribed to track {track_id!r}")
        return down

    def targets(self, track_id: str) -> tuple[D, ...]:
        """The down-tracks a packet of ``track_id`` goes to (empty for an unknown track)."""
        entry = self._tracks.get(track_id)
        return entry.targets if entry is not None else ()

    def subscriptions_of(self, subscriber_id: str) -> frozenset[str]:
        return frozenset(self._by_subscriber.get(subscriber_id, ()))

    def subscribers(self) -> frozenset[str]:
        return frozenset(self._by_subscriber)

    def _drop_subscriber_index(self, subscriber_id: str, track_id: str) -> None:
        tracks = self._by_subscriber.get(subscriber_id)
        if tracks is not None:
            tracks.discard(track_id)
            if not tracks:
                del self._by_subscriber[subscriber_id]

    # --- participants -----------------------------------------------------------------------

    def remove_participant(self, participant_id: str) -> tuple[dict[str, dict[str, D]], dict[str, D]]:
        """Remove everything of a participant.

        Returns (their tracks: track id -> the subscriptions that went with it, their own
        subscriptions: track id -> down-track).
        """
        own: dict[str, D] = {}
        for track_id in sorted(self.subscriptions_of(participant_id)):
            own[track_id] = self.unsubscribe(participant_id, track_id)
        removed: dict[str, dict[str, D]] = {}
        for track_id in sorted(self.tracks_of(participant_id)):
            removed[track_id] = self.remove_track(track_id)
        return removed, own

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the indexes disagree (used by tests)."""
        for track_id, entry in self._tracks.items():
            assert track_id in self._by_publisher.get(entry.publisher_id, set())
            assert entry.targets == tuple(entry.subscriptions.values())
            assert entry.publisher_id not in entry.subscriptions
            for subscriber_id in entry.subscriptions:
                assert track_id in self._by_subscriber.get(subscriber_id, set())
        for publisher_id, tracks in self._by_publisher.items():
            assert tracks
            for track_id in tracks:
                assert self._tracks[track_id].publisher_id == publisher_id
        for subscriber_id, tracks in self._by_subscriber.items():
            assert tracks
            for track_id in tracks:
                assert subscriber_id in self._tracks[track_id].subscriptions
