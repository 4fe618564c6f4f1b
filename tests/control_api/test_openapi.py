"""The OpenAPI document: served, complete (every route documented, every path routed) and
consistent (every schema reference resolves, every problem code is documented)."""

from __future__ import annotations

import re
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from control_api import create_app
from control_api.openapi import DOCUMENT
from control_api.problems import KNOWN_CODES, ApiError
from control_api.schema import validate
from tests.control_api.conftest import Org
from tests.control_api.support import SECRET_KEY

METHODS = {"get", "post", "patch", "put", "delete"}


def _routes(app: web.Application) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "*"):
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("formatter") or info.get("path")
        assert isinstance(path, str)
        found.add((route.method.lower(), path))
    return found


async def test_every_route_is_documented_and_every_documented_path_is_routed(
    redis_client: aioredis.Redis,
) -> None:
    app = create_app(redis_client, secret_key=SECRET_KEY)
    routes = _routes(app)
    documented = {(m, p) for p, ops in DOCUMENT["paths"].items() for m in ops if m in METHODS}
    assert routes == documented, {"undocumented": routes - documented, "unrouted": documented - routes}


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves_and_every_operation_has_a_problem_response() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    for ref in _refs(DOCUMENT):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    for path, ops in DOCUMENT["paths"].items():
        declared = {p["name"] for p in ops.get("parameters", [])}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), path
        for method, op in ops.items():
            if method not in METHODS:
                continue
            assert "responses" in op, (method, path)
            if path != "/openapi.json":
                assert "default" in op["responses"], (method, path)
            for param in re.findall(r"\{([^}]+)\}", path):
                assert param.endswith("_id"), param


def test_problem_codes_are_documented_in_the_schema() -> None:
    assert set(DOCUMENT["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]) == KNOWN_CODES
    body = ApiError(409, "sold_out", "0 left").body()
    assert validate(body, {"$ref": "#/components/schemas/Problem"}, DOCUMENT) == []


async def test_document_is_served(org: Org) -> None:
    reply = await org.api.get("/openapi.json", expect=200)
    assert reply.body["openapi"] == "3.1.0"
    assert reply.body["paths"].keys() == DOCUMENT["paths"].keys()


def test_validator_rejects_what_it_should() -> None:
    schema = DOCUMENT["components"]["schemas"]["EventCreate"]
    good = {
        "title": "T",
        "time_zone": "UTC",
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-01-02T00:00:00+01:00",
        "capacity": 1,
    }
    assert validate(good, schema, DOCUMENT) == []
    cases = {
        "/capacity": {**good, "capacity": True},
        "/title": {**good, "title": ""},
        "/extra": {**good, "extra": 1},
        "/starts_at": {**good, "starts_at": "2030-02-30T00:00:00Z"},
        "/ends_at": {**good, "ends_at": "2030-01-02T00:00:00"},
    }
    for path, value in cases.items():
        errors = validate(value, schema, DOCUMENT)
        assert [e["path"] for e in errors] == [path], (path, errors)
    missing = {k: v for k, v in good.items() if k != "time_zone"}
    assert [e["path"] for e in validate(missing, schema, DOCUMENT)] == ["/time_zone"]
    assert validate([], schema, DOCUMENT)[0]["message"] == "expected object"
