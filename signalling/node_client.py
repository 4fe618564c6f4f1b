"""Media nodes as signalling sees them: one async :class:`MediaNode` interface, two ways to reach it.

- :class:`LocalNode`: an :class:`~sfu.node.SfuNode` in this process (``venuekit dev``);
- :class:`RemoteNode`: a ``venuekit sfu`` process, through its JSON-over-HTTP node API
  (``sfu/server.py``), authenticated with the shared node secret.

Both raise :class:`~sfu.node.SfuError` with the node's stable code; a node that cannot be
reached (refused, timed out, an answer that is not the API's) is ``node_unreachable``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Final, Protocol

import aiohttp
from prometheus_client import Counter, Histogram

from sfu.node import PublishAnswer, SfuError, SfuErrorCode, SfuNode, SubscriberOffer, TrackInfo

NODE_CALLS: Final = Counter(
    "venuekit_signal_node_calls_total", "Calls to remote media nodes by operation and outcome", ["op", "code"]
)
NODE_CALL_SECONDS: Final = Histogram(
    "venuekit_signal_node_call_seconds",
    "Round-trip time of calls to remote media nodes",
    ["op"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


class MediaNode(Protocol):
    """What signalling asks of the media node hosting a space."""

    async def create_space(self, space_id: str) -> None: ...
    async def spaces(self) -> list[str]: ...
    async def add_participant(self, space_id: str, participant_id: str) -> None: ...
    async def remove_participant(self, space_id: str, participant_id: str) -> None: ...
    async def participants(self, space_id: str) -> list[str]: ...
    async def publish(
        self, space_id: str, participant_id: str, offer_sdp: str, labels: Mapping[str, str] | None = None
    ) -> PublishAnswer: ...
    async def unpublish(self, space_id: str, participant_id: str, track_id: str) -> None: ...
    async def set_muted(self, space_id: str, participant_id: str, track_id: str, muted: bool) -> None: ...
    async def set_paused(self, space_id: str, participant_id: str, track_id: str, paused: bool) -> None: ...
    async def tracks(self, space_id: str) -> list[TrackInfo]: ...
    async def subscribe(self, space_id: str, participant_id: str, track_id: str) -> bool: ...
    async def subscriber_offer(self, space_id: str, participant_id: str) -> SubscriberOffer: ...
    async def subscriber_answer(self, space_id: str, participant_id: str, answer_sdp: str) -> None: ...


class LocalNode:
    """:class:`MediaNode` over an in-process :class:`SfuNode`."""

    def __init__(self, node: SfuNode) -> None:
        self.node = node

    async def create_space(self, space_id: str) -> None:
        await self.node.create_space(space_id)

    async def spaces(self) -> list[str]:
        return self.node.spaces()

    async def add_participant(self, space_id: str, participant_id: str) -> None:
        await self.node.add_participant(space_id, participant_id)

    async def remove_participant(self, space_id: str, participant_id: str) -> None:
        await self.node.remove_participant(space_id, participant_id)

    async def participants(self, space_id: str) -> list[str]:
        return self.node.participants(space_id)

    async def publish(
        self, space_id: str, participant_id: str, offer_sdp: str, labels: Mapping[str, str] | None = None
    ) -> PublishAnswer:
        return await self.node.publish(space_id, participant_id, offer_sdp, labels=labels)

    async def unpublish(self, space_id: str, participant_id: str, track_id: str) -> None:
        await self.node.unpublish(space_id, participant_id, track_id)

    async def set_muted(self, space_id: str, participant_id: str, track_id: str, muted: bool) -> None:
        self.node.set_muted(space_id, participant_id, track_id, muted)

    async def set_paused(self, space_id: str, participant_id: str, track_id: str, paused: bool) -> None:
        if paused:
            self.node.pause(space_id, participant_id, track_id)
        else:
            self.node.resume(space_id, participant_id, track_id)

    async def tracks(self, space_id: str) -> list[TrackInfo]:
        return self.node.tracks(space_id)

    async def subscribe(self, space_id: str, participant_id: str, track_id: str) -> bool:
        return await self.node.subscribe(space_id, participant_id, track_id)

    async def subscriber_offer(self, space_id: str, participant_id: str) -> SubscriberOffer:
        return await self.node.subscriber_offer(space_id, participant_id)

    async def subscriber_answer(self, space_id: str, participant_id: str, answer_sdp: str) -> None:
        await self.node.subscriber_answer(space_id, participant_id, answer_sdp)


def _bad_answer(op: str, why: str) -> SfuError:
    return SfuError(SfuErrorCode.NODE_UNREACHABLE, f"the media node gave no valid answer to {op}: {why}")


def _track(raw: Any) -> TrackInfo:
    return TrackInfo(
        track_id=str(raw["track_id"]),
        participant_id=str(raw["participant_id"]),
        kind=str(raw["kind"]),
        mid=None if raw["mid"] is None else str(raw["mid"]),
        codec=str(raw["codec"]),
        muted=bool(raw["muted"]),
        label=None if raw.get("label") is None else str(raw["label"]),
    )


class RemoteNode:
    """:class:`MediaNode` over HTTP to a ``venuekit sfu`` process at ``url``."""

    def __init__(
        self, url: str, secret: str, session: aiohttp.ClientSession, *, timeout_s: float = 15.0
    ) -> None:
        self.url = url.rstrip("/")
        self._session = session
        self._headers = {"Authorization": f"Bearer {secret}"}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=2.0)

    async def call(self, op: str, args: Mapping[str, Any]) -> Any:
        """One node API operation; its ``result``, or the node's refusal as :class:`SfuError`."""
        started = time.perf_counter()
        code = "ok"
        try:
            try:
                async with self._session.post(
                    f"{self.url}/node/v1/{op}", json=dict(args), headers=self._headers, timeout=self._timeout
                ) as resp:
                    body = await resp.json(content_type=None)
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise SfuError(
                    SfuErrorCode.NODE_UNREACHABLE,
                    f"media node {self.url} unreachable ({type(exc).__name__}: {exc})",
                ) from None
            if not isinstance(body, dict):
                raise _bad_answer(op, "not a JSON object")
            if status == 200 and "result" in body:
                return body["result"]
            try:
                error_code = SfuErrorCode(str(body.get("code")))
            except ValueError:
                raise _bad_answer(op, f"HTTP {status}") from None
            details = body.get("details")
            raise SfuError(
                error_code, str(body.get("detail", "")), **(details if isinstance(details, dict) else {})
            )
        except SfuError as exc:
            code = str(exc.code)
            raise
        except asyncio.CancelledError:
            code = "cancelled"
            raise
        finally:
            NODE_CALLS.labels(op, code).inc()
            NODE_CALL_SECONDS.labels(op).observe(time.perf_counter() - started)

    async def create_space(self, space_id: str) -> None:
        await self.call("create_space", {"space_id": space_id})

    async def spaces(self) -> list[str]:
        return [str(s) for s in await self.call("spaces", {})]

    async def add_participant(self, space_id: str, participant_id: str) -> None:
        await self.call("add_participant", {"space_id": space_id, "participant_id": participant_id})

    async def remove_participant(self, space_id: str, participant_id: str) -> None:
        await self.call("remove_participant", {"space_id": space_id, "participant_id": participant_id})

    async def participants(self, space_id: str) -> list[str]:
        return [str(p) for p in await self.call("participants", {"space_id": space_id})]

    async def publish(
        self, space_id: str, participant_id: str, offer_sdp: str, labels: Mapping[str, str] | None = None
    ) -> PublishAnswer:
        raw = await self.call(
            "publish",
            {
                "space_id": space_id,
                "participant_id": participant_id,
                "sdp": offer_sdp,
                "labels": dict(labels or {}),
            },
        )
        try:
            return PublishAnswer(
                sdp=str(raw["sdp"]),
                tracks=tuple(_track(t) for t in raw["tracks"]),
                added=tuple(str(t) for t in raw["added"]),
                removed=tuple(str(t) for t in raw["removed"]),
            )
        except (KeyError, TypeError) as exc:
            raise _bad_answer("publish", repr(exc)) from None

    async def unpublish(self, space_id: str, participant_id: str, track_id: str) -> None:
        await self.call(
            "unpublish", {"space_id": space_id, "participant_id": participant_id, "track_id": track_id}
        )

    async def set_muted(self, space_id: str, participant_id: str, track_id: str, muted: bool) -> None:
        await self.call(
            "set_muted",
            {"space_id": space_id, "participant_id": participant_id, "track_id": track_id, "muted": muted},
        )

    async def set_paused(self, space_id: str, participant_id: str, track_id: str, paused: bool) -> None:
        await self.call(
            "set_paused",
            {"space_id": space_id, "participant_id": participant_id, "track_id": track_id, "paused": paused},
        )

    async def tracks(self, space_id: str) -> list[TrackInfo]:
        raw = await self.call("tracks", {"space_id": space_id})
        try:
            return [_track(t) for t in raw]
        except (KeyError, TypeError) as exc:
            raise _bad_answer("tracks", repr(exc)) from None

    async def subscribe(self, space_id: str, participant_id: str, track_id: str) -> bool:
        return bool(
            await self.call(
                "subscribe", {"space_id": space_id, "participant_id": participant_id, "track_id": track_id}
            )
        )

    async def subscriber_offer(self, space_id: str, participant_id: str) -> SubscriberOffer:
        raw = await self.call("subscriber_offer", {"space_id": space_id, "participant_id": participant_id})
        try:
            return SubscriberOffer(sdp=str(raw["sdp"]), mids={str(k): str(v) for k, v in raw["mids"].items()})
        except (KeyError, TypeError, AttributeError) as exc:
            raise _bad_answer("subscriber_offer", repr(exc)) from None

    async def subscriber_answer(self, space_id: str, participant_id: str, answer_sdp: str) -> None:
        await self.call(
            "subscriber_answer", {"space_id": space_id, "participant_id": participant_id, "sdp": answer_sdp}
        )
