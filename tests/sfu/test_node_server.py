"""The node's network API: authentication, validation, structured errors, on a real server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfu import aiortc_glue
from sfu.node import SfuNode
from sfu.server import MAX_BODY_BYTES, OPERATIONS, NodeApi

SECRET = "node-secret-" + "n" * 40
AUTH = {"Authorization": f"Bearer {SECRET}"}


class Api:
    def __init__(self, server: TestServer, session: aiohttp.ClientSession, node: SfuNode) -> None:
        self.server, self.session, self.node = server, session, node

    async def post(
        self, op: str, body: Any = None, *, raw: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str, dict[str, Any]]:
        data = raw if raw is not None else json.dumps(body if body is not None else {}).encode()
        async with self.session.post(
            self.server.make_url(f"/node/v1/{op}"), data=data, headers=AUTH if headers is None else headers
        ) as resp:
            return resp.status, resp.content_type, await resp.json(content_type=None)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    node = SfuNode(ice_host_addresses=("127.0.0.1",))
    app = web.Application()
    NodeApi(node, SECRET).add_routes(app)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield Api(server, session, node)
    await node.close()
    await server.close()
    aiortc_glue.set_ice_host_addresses(None)


async def test_a_missing_or_wrong_secret_is_refused_and_changes_nothing(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET}):
        status, ctype, body = await api.post("create_space", {"space_id": "s"}, headers=headers)
        assert (status, ctype, body["code"]) == (401, "application/problem+json", "unauthorized")
    assert api.node.spaces() == []


async def test_bad_json_and_bad_arguments_get_stable_codes(api: Api) -> None:
    status, _, body = await api.post("create_space", raw=b"{not json")
    assert (status, body["code"]) == (400, "invalid_json")
    status, _, body = await api.post("create_space", raw=b"[1, 2]")
    assert (status, body["code"]) == (400, "invalid_json")
    status, _, body = await api.post("create_space", {"space_id": 5})
    assert (status, body["code"]) == (400, "invalid_argument")
    status, _, body = await api.post("create_space", {"space_id": "s", "colour": "red"})
    assert (status, body["code"]) == (400, "invalid_argument") and "colour" in body["detail"]
    status, _, body = await api.post("create_space", {"space_id": "s", "limits": {"max_spaces": -1}})
    assert (status, body["code"]) == (400, "invalid_argument")
    status, _, body = await api.post("no_such_thing", {})
    assert (status, body["code"]) == (404, "unknown_operation")
    status, _, body = await api.post("create_space", raw=b" " * (MAX_BODY_BYTES + 10))
    assert (status, body["code"]) == (400, "invalid_argument")
    assert api.node.spaces() == []


async def test_node_errors_come_back_with_their_code(api: Api) -> None:
    assert (await api.post("create_space", {"space_id": "s", "limits": {"max_publishers_per_space": 2}}))[
        0
    ] == 200
    status, _, body = await api.post("create_space", {"space_id": "s"})
    assert (status, body["code"]) == (409, "space_exists")
    status, _, body = await api.post("add_participant", {"space_id": "nope", "participant_id": "p"})
    assert (status, body["code"]) == (404, "unknown_space")
    assert (await api.post("add_participant", {"space_id": "s", "participant_id": "p"}))[0] == 200
    status, _, body = await api.post("publish", {"space_id": "s", "participant_id": "p", "sdp": "garbage"})
    assert (status, body["code"]) == (400, "malformed_sdp")
    status, _, body = await api.post("subscriber_offer", {"space_id": "s", "participant_id": "p"})
    assert (status, body["code"]) == (409, "invalid_state")
    status, _, body = await api.post(
        "set_muted", {"space_id": "s", "participant_id": "p", "track_id": "t", "muted": "yes"}
    )
    assert (status, body["code"]) == (400, "invalid_argument")
    assert await api.post("participants", {"space_id": "s"}) == (200, "application/json", {"result": ["p"]})
    assert (await api.post("tracks", {"space_id": "s"}))[2] == {"result": []}
    assert (await api.post("spaces"))[2] == {"result": ["s"]}
    assert (await api.post("limits"))[2]["result"]["max_publishers_per_space"] == 50


def test_every_operation_takes_only_known_argument_names() -> None:
    for name, (allowed, _handler) in OPERATIONS.items():
        assert all(a.isidentifier() for a in allowed), name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    op=st.sampled_from(sorted(OPERATIONS)),
    body=st.one_of(
        st.binary(max_size=200),
        st.dictionaries(
            st.sampled_from(["space_id", "participant_id", "track_id", "sdp", "muted", "labels", "x"]),
            st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30), st.lists(st.integers())),
            max_size=5,
        ).map(lambda d: json.dumps(d).encode()),
    ),
)
async def test_fuzzed_requests_get_an_answer_never_a_crash(api: Api, op: str, body: bytes) -> None:
    status, ctype, reply = await api.post(op, raw=body)
    if status == 200:
        assert "result" in reply
    else:
        assert ctype == "application/problem+json" and status < 500, reply
        assert isinstance(reply["code"], str) and isinstance(reply["detail"], str)
