"""A small OpenID Connect provider for tests, served by aiohttp on loopback.

Discovery, JWKS, an authorize endpoint that redirects back with a code, and a token endpoint
that checks the client's credentials, the redirect URI and the PKCE verifier (S256) before it
signs an ID token (ES256). Knobs let a test change the next user, tamper with claims, sign
with a key that is not published, or make the token endpoint hang.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from yarl import URL


@dataclass
class Provider:
    client_id: str = "venuekit-client"
    client_secret: str = "s3cr3t-of-the-client"
    issuer: str = ""
    user: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "u-1001",
            "email": "ada@acme.test",
            "email_verified": True,
            "name": "Ada Lovelace",
            "groups": ["engineering"],
        }
    )
    tamper: dict[str, Any] = field(default_factory=dict)
    sign_with_unpublished_key: bool = False
    hang: asyncio.Event | None = None
    token_requested: asyncio.Event = field(default_factory=asyncio.Event)
    token_requests: int = 0
    refusals: list[str] = field(default_factory=list)
    key: ECKey = field(default_factory=lambda: ECKey.generate_key("P-256", parameters={"kid": "idp-1"}))
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/idp/.well-known/openid-configuration", self.discovery)
        app.router.add_get("/idp/jwks", self.jwks)
        app.router.add_get("/idp/authorize", self.authorize)
        app.router.add_post("/idp/token", self.token)
        return app

    async def discovery(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    async def jwks(self, _request: web.Request) -> web.Response:
        return web.json_response(KeySet([self.key]).as_dict(private=False))

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != self.client_id or q.get("response_type") != "code":
            return web.Response(status=400, text="bad client or response type")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return web.Response(status=400, text="PKCE S256 required")
        code = secrets.token_urlsafe(16)
        self._codes[code] = {
            "challenge": q["code_challenge"],
            "nonce": q.get("nonce"),
            "redirect_uri": q["redirect_uri"],
            "user": dict(self.user),
        }
        target = URL(q["redirect_uri"]).update_query({"code": code, "state": q.get("state", "")})
        return web.Response(status=302, headers={"Location": str(target)})

    def _refuse(self, why: str) -> web.Response:
        self.refusals.append(why)
        return web.json_response({"error": "invalid_grant", "error_description": why}, status=400)

    async def token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        self.token_requested.set()
        if self.hang is not None:
            await self.hang.wait()
            return web.json_response({"error": "server_error"}, status=500)
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response({"error": "invalid_client"}, status=401)
        form = await request.post()
        grant = self._codes.pop(str(form.get("code")), None)
        if grant is None:
            return self._refuse("unknown or used code")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return self._refuse("redirect_uri differs")
        verifier = str(form.get("code_verifier", ""))
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
            return self._refuse("PKCE verifier does not match the challenge")
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant["nonce"],
            **grant["user"],
            **self.tamper,
        }
        key = self.key
        if self.sign_with_unpublished_key:
            key = ECKey.generate_key("P-256", parameters={"kid": "idp-1"})
        id_token = jwt.encode({"alg": "ES256", "kid": "idp-1"}, claims, key)
        return web.json_response({"access_token": "at", "token_type": "Bearer", "id_token": id_token})


@asynccontextmanager
async def running_provider(provider: Provider) -> AsyncIterator[Provider]:
    server = TestServer(provider.app(), host="127.0.0.1")
    await server.start_server()
    provider.issuer = str(server.make_url("/idp"))
    try:
        yield provider
    finally:
        if provider.hang is not None:
            provider.hang.set()
        await server.close()
