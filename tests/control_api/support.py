"""A test client for the control API that checks every response against the OpenAPI document."""

from __future__ import annotations

import json as jsonlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient

from control_api.openapi import DOCUMENT
from control_api.schema import validate

BASE = "/api/v1"
SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnop"
PASSWORD = "correct horse battery staple"


def _template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in re.split(r"\{[^}]+\}", template)) + "$")


_TEMPLATES = [(t, _template_regex(t)) for t in DOCUMENT["paths"]]


def operation_of(method: str, path: str) -> dict[str, Any]:
    """The OpenAPI operation documenting ``method path`` (a concrete path under /api/v1)."""
    relative = path.split("?", maxsplit=1)[0].removeprefix(BASE)
    matches = [t for t, regex in _TEMPLATES if regex.match(relative)]
    # literal segments beat parameters: prefer the template with the fewest parameters
    matches.sort(key=lambda t: t.count("{"))
    for template in matches:
        op = DOCUMENT["paths"][template].get(method.lower())
        if op is not None:
            return op  # type: ignore[no-any-return]
    raise AssertionError(f"{method} {relative} is not in the OpenAPI document")


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    content_type: str

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


@dataclass
class Api:
    """Real HTTP to the API; every response is validated against the document."""

    client: TestClient[web.Request, web.Application]
    headers: dict[str, str] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list, repr=False)

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        expect: int | None = None,
    ) -> Reply:
        url = BASE + path
        all_headers = {**self.headers, **(headers or {})}
        body = data
        if json is not None:
            body = jsonlib.dumps(json).encode()  # stdlib: also sends integers beyond 64 bits
            all_headers.setdefault("Content-Type", "application/json")
        async with self.client.request(method, url, data=body, headers=all_headers) as resp:
            raw = await resp.read()
            reply = Reply(
                resp.status, orjson.loads(raw) if raw else None, dict(resp.headers), resp.content_type
            )
        assert reply.status < 500, (method, path, reply.status, raw[:500])
        self._check(method, url, reply)
        if expect is not None:
            assert reply.status == expect, (method, path, reply.status, reply.body)
        return reply

    def _check(self, method: str, url: str, reply: Reply) -> None:
        op = operation_of(method, url)
        responses = op["responses"]
        if reply.status >= 400:
            assert reply.content_type == "application/problem+json", str(reply)[:500]
            spec = responses["default"]
        else:
            assert str(reply.status) in responses, (method, url, reply.status, list(responses))
            spec = responses[str(reply.status)]
        content = spec.get("content")
        if content is None:
            assert reply.body is None, str(reply)[:500]
            return
        media = next(iter(content))
        schema = content[media]["schema"]
        errors = validate(reply.body, schema, DOCUMENT)
        assert not errors, (method, url, reply.status, errors, reply.body)
        self.checked.append(f"{method} {url} {reply.status}")

    async def get(self, path: str, **kw: Any) -> Reply:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> Reply:
        return await self.call("POST", path, json, **kw)

    async def patch(self, path: str, json: Any = None, **kw: Any) -> Reply:
        return await self.call("PATCH", path, json, **kw)

    async def delete(self, path: str, **kw: Any) -> Reply:
        return await self.call("DELETE", path, **kw)
