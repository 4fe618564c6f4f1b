"""The media node's network API: :class:`~sfu.node.SfuNode` operations as JSON over HTTP.

``POST /node/v1/<operation>`` with a JSON object of arguments and ``Authorization: Bearer
<secret>`` (the shared node secret, compared in constant time). A success is ``200 {"result":
...}``; a refusal is ``application/problem+json`` with the node's stable ``code`` (an
:class:`~sfu.node.SfuErrorCode`), a ``detail`` for humans and optional ``details``. Every
argument is checked (type, presence, size) before the node sees it; unknown arguments are
refused, so a client typo never passes silently.

Node events are not served here: the composition root hands the node an ``on_event`` callback
that publishes them where the signalling instances listen.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

from aiohttp import web
from prometheus_client import Counter, Histogram

from sfu.node import MAX_SDP_BYTES, Limits, SfuError, SfuErrorCode, SfuNode

PREFIX: Final = "/node/v1/"
MAX_BODY_BYTES: Final = MAX_SDP_BYTES + 16 * 1024
MAX_ID_CHARS: Final = 256
MAX_LABELS: Final = 16

API_REQUESTS: Final = Counter(
    "venuekit_sfu_node_api_requests_total", "Node API requests by operation and outcome", ["op", "code"]
)
API_SECONDS: Final = Histogram(
    "venuekit_sfu_node_api_seconds",
    "Time to serve a node API request",
    ["op"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)

_STATUS: Final[Mapping[SfuErrorCode, int]] = {
    SfuErrorCode.UNAUTHORIZED: 401,
    SfuErrorCode.UNKNOWN_OPERATION: 404,
    SfuErrorCode.UNKNOWN_SPACE: 404,
    SfuErrorCode.UNKNOWN_PARTICIPANT: 404,
    SfuErrorCode.UNKNOWN_TRACK: 404,
    SfuErrorCode.SPACE_EXISTS: 409,
    SfuErrorCode.PARTICIPANT_EXISTS: 409,
    SfuErrorCode.ALREADY_SUBSCRIBED: 409,
    SfuErrorCode.NOT_SUBSCRIBED: 409,
    SfuErrorCode.INVALID_STATE: 409,
    SfuErrorCode.TOO_MANY_SPACES: 429,
    SfuErrorCode.TOO_MANY_PUBLISHERS: 429,
    SfuErrorCode.TOO_MANY_SUBSCRIBERS: 429,
    SfuErrorCode.TOO_MANY_TRACKS: 429,
    SfuErrorCode.NODE_CLOSED: 503,
}


class _Args:
    """Typed access to a request's arguments; every miss is an ``invalid_argument`` refusal."""

    def __init__(self, raw: Mapping[str, Any], allowed: frozenset[str]) -> None:
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise SfuError(
                SfuErrorCode.INVALID_ARGUMENT, f"unknown argument(s): {', '.join(k[:64] for k in unknown)}"
            )
        self._raw = raw

    def ident(self, name: str) -> str:
        value = self._raw.get(name)
        if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS:
            raise SfuError(
                SfuErrorCode.INVALID_ARGUMENT, f"{name} must be a string of 1 to {MAX_ID_CHARS} characters"
            )
        return value

    def sdp(self, name: str) -> str:
        value = self._raw.get(name)
        if not isinstance(value, str) or not value:
            raise SfuError(SfuErrorCode.MALFORMED_SDP, f"{name} must be a non-empty string")
        return value

    def boolean(self, name: str) -> bool:
        value = self._raw.get(name)
        if not isinstance(value, bool):
            raise SfuError(SfuErrorCode.INVALID_ARGUMENT, f"{name} must be true or false")
        return value

    def optional_str(self, name: str) -> str | None:
        value = self._raw.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 4096):
            raise SfuError(SfuErrorCode.INVALID_ARGUMENT, f"{name} must be a string or null")
        return value

    def optional_int(self, name: str) -> int | None:
        value = self._raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise SfuError(SfuErrorCode.INVALID_ARGUMENT, f"{name} must be a non-negative integer or null")
        return value

    def labels(self, name: str) -> dict[str, str] | None:
        value = self._raw.get(name)
        if value is None:
            return None
        if (
            not isinstance(value, dict)
            or len(value) > MAX_LABELS
            or not all(isinstance(v, str) and 0 < len(k) <= 64 and 0 < len(v) <= 64 for k, v in value.items())
        ):
            raise SfuError(
                SfuErrorCode.INVALID_ARGUMENT, f"{name} must map at most {MAX_LABELS} mids to short names"
            )
        return dict(value)

    def limits(self, name: str) -> Limits | None:
        value = self._raw.get(name)
        if value is None:
            return None
        names = {f.name for f in dataclasses.fields(Limits)}
        if (
            not isinstance(value, dict)
            or set(value) - names
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values())
        ):
            raise SfuError(
                SfuErrorCode.INVALID_ARGUMENT,
                f"{name} must be an object of positive integers among {', '.join(sorted(names))}",
            )
        return Limits(**value)


Handler = Callable[[SfuNode, _Args], Awaitable[object]]


def _jsonable(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


async def _create_space(node: SfuNode, a: _Args) -> object:
    await node.create_space(a.ident("space_id"), limits=a.limits("limits"))
    return None


async def _close_space(node: SfuNode, a: _Args) -> object:
    await node.close_space(a.ident("space_id"))
    return None


async def _spaces(node: SfuNode, _a: _Args) -> object:
    return node.spaces()


async def _limits(node: SfuNode, _a: _Args) -> object:
    return node.limits


async def _add_participant(node: SfuNode, a: _Args) -> object:
    await node.add_participant(a.ident("space_id"), a.ident("participant_id"))
    return None


async def _remove_participant(node: SfuNode, a: _Args) -> object:
    await node.remove_participant(a.ident("space_id"), a.ident("participant_id"))
    return None


async def _participants(node: SfuNode, a: _Args) -> object:
    return node.participants(a.ident("space_id"))


async def _publish(node: SfuNode, a: _Args) -> object:
    return await node.publish(
        a.ident("space_id"), a.ident("participant_id"), a.sdp("sdp"), labels=a.labels("labels")
    )


async def _unpublish(node: SfuNode, a: _Args) -> object:
    await node.unpublish(a.ident("space_id"), a.ident("participant_id"), a.ident("track_id"))
    return None


async def _set_muted(node: SfuNode, a: _Args) -> object:
    node.set_muted(a.ident("space_id"), a.ident("participant_id"), a.ident("track_id"), a.boolean("muted"))
    return None


async def _set_paused(node: SfuNode, a: _Args) -> object:
    space_id, participant_id, track_id = a.ident("space_id"), a.ident("participant_id"), a.ident("track_id")
    if a.boolean("paused"):
        node.pause(space_id, participant_id, track_id)
    else:
        node.resume(space_id, participant_id, track_id)
    return None


async def _tracks(node: SfuNode, a: _Args) -> object:
    return node.tracks(a.ident("space_id"))


async def _subscribe(node: SfuNode, a: _Args) -> object:
    return await node.subscribe(a.ident("space_id"), a.ident("participant_id"), a.ident("track_id"))


async def _unsubscribe(node: SfuNode, a: _Args) -> object:
    await node.unsubscribe(a.ident("space_id"), a.ident("participant_id"), a.ident("track_id"))
    return None


async def _subscriber_offer(node: SfuNode, a: _Args) -> object:
    return await node.subscriber_offer(a.ident("space_id"), a.ident("participant_id"))


async def _subscriber_answer(node: SfuNode, a: _Args) -> object:
    await node.subscriber_answer(a.ident("space_id"), a.ident("participant_id"), a.sdp("sdp"))
    return None


async def _ice_candidate(node: SfuNode, a: _Args) -> object:
    direction = a.ident("direction")
    if direction not in ("publish", "subscribe"):
        raise SfuError(SfuErrorCode.INVALID_ARGUMENT, "direction must be 'publish' or 'subscribe'")
    await node.add_ice_candidate(
        a.ident("space_id"),
        a.ident("participant_id"),
        "publish" if direction == "publish" else "subscribe",
        a.optional_str("candidate"),
        sdp_mid=a.optional_str("sdp_mid"),
        sdp_mline_index=a.optional_int("sdp_mline_index"),
    )
    return None


_SPACE: Final = frozenset({"space_id"})
_PEER: Final = frozenset({"space_id", "participant_id"})
_TRACK: Final = frozenset({"space_id", "participant_id", "track_id"})

OPERATIONS: Final[Mapping[str, tuple[frozenset[str], Handler]]] = {
    "create_space": (frozenset({"space_id", "limits"}), _create_space),
    "close_space": (_SPACE, _close_space),
    "spaces": (frozenset(), _spaces),
    "limits": (frozenset(), _limits),
    "add_participant": (_PEER, _add_participant),
    "remove_participant": (_PEER, _remove_participant),
    "participants": (_SPACE, _participants),
    "publish": (_PEER | {"sdp", "labels"}, _publish),
    "unpublish": (_TRACK, _unpublish),
    "set_muted": (_TRACK | {"muted"}, _set_muted),
    "set_paused": (_TRACK | {"paused"}, _set_paused),
    "tracks": (_SPACE, _tracks),
    "subscribe": (_TRACK, _subscribe),
    "unsubscribe": (_TRACK, _unsubscribe),
    "subscriber_offer": (_PEER, _subscriber_offer),
    "subscriber_answer": (_PEER | {"sdp"}, _subscriber_answer),
    "ice_candidate": (_PEER | {"direction", "candidate", "sdp_mid", "sdp_mline_index"}, _ice_candidate),
}
"""Operation name -> (the arguments it accepts, its handler)."""


def problem(error: SfuError) -> web.Response:
    status = _STATUS.get(error.code, 400)
    body: dict[str, object] = {
        "type": f"urn:venuekit:sfu:{error.code}",
        "title": error.code.replace("_", " "),
        "status": status,
        "code": str(error.code),
        "detail": error.message,
    }
    if error.details:
        body["details"] = _jsonable(error.details)
    return web.Response(status=status, text=json.dumps(body), content_type="application/problem+json")


class NodeApi:
    """Serves :data:`OPERATIONS` of one node to callers that present ``secret``."""

    def __init__(self, node: SfuNode, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("the node secret must be at least 32 characters")
        self._node = node
        self._expected = f"Bearer {secret}".encode()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(PREFIX + "{op}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        op = request.match_info["op"]
        label = op if op in OPERATIONS else "unknown"
        started = time.perf_counter()
        try:
            result = await self._serve(op, request)
        except SfuError as exc:
            API_REQUESTS.labels(label, str(exc.code)).inc()
            return problem(exc)
        finally:
            API_SECONDS.labels(label).observe(time.perf_counter() - started)
        API_REQUESTS.labels(label, "ok").inc()
        return web.json_response({"result": _jsonable(result)})

    async def _serve(self, op: str, request: web.Request) -> object:
        given = request.headers.get("Authorization", "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, self._expected):
            raise SfuError(SfuErrorCode.UNAUTHORIZED, "a valid node secret is required")
        entry = OPERATIONS.get(op)
        if entry is None:
            raise SfuError(SfuErrorCode.UNKNOWN_OPERATION, f"no operation {op[:64]!r}")
        body = await request.content.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise SfuError(SfuErrorCode.INVALID_ARGUMENT, f"request body over {MAX_BODY_BYTES} bytes")
        try:
            raw = json.loads(body) if body else {}
        except (ValueError, UnicodeDecodeError):
            raise SfuError(SfuErrorCode.INVALID_JSON, "the body is not JSON") from None
        if not isinstance(raw, dict):
            raise SfuError(SfuErrorCode.INVALID_JSON, "the body must be a JSON object")
        allowed, handler = entry
        return await handler(self._node, _Args(raw, allowed))
