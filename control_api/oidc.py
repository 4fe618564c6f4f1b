"""OpenID Connect relying party: discovery, the token endpoint and ID-token verification.

One :class:`Provider` per organisation, each with its own discovery and key cache, its own
concurrency gate and its own time limit, so a slow or failing provider of one organisation
never slows another's logins (joins never touch a provider at all). The protocol pieces come
from authlib: PKCE (RFC 7636) from ``authlib.oauth2.rfc7636`` and ID-token signature and
claim checks from ``joserfc`` (authlib's JOSE implementation). HTTP is aiohttp.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, cast
from urllib.parse import quote

import aiohttp
import orjson
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from yarl import URL

METADATA_TTL_S: Final = 3600.0
KEYS_TTL_S: Final = 3600.0
KEYS_REFRESH_MIN_S: Final = 30.0
"""An ID token with an unknown ``kid`` refetches the JWKS, at most this often (key rotation)."""
MAX_DOCUMENT_BYTES: Final = 1024 * 1024
MAX_CALLS_IN_FLIGHT: Final = 8
"""Provider calls of one organisation at once; more wait (within the same time limit)."""
CLOCK_SKEW_S: Final = 60
ALLOWED_ALGS: Final = ("RS256", "ES256", "PS256", "EdDSA")
"""Asymmetric algorithms only: never ``none``, never HMAC with the client secret."""


class ProviderError(Exception):
    """The provider failed, answered nonsense, or took too long (``timeout``)."""

    def __init__(self, detail: str, *, timeout: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.timeout = timeout


class TokenRejected(Exception):
    """The ID token (or the code exchange) is not acceptable: signature, claims, nonce."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def new_verifier() -> str:
    """A PKCE code verifier (RFC 7636 §4.1: 43-128 characters of the unreserved set)."""
    verifier: str = generate_token(64)
    return verifier


def challenge_of(verifier: str) -> str:
    """The S256 code challenge of a verifier (RFC 7636 §4.2)."""
    challenge: str = create_s256_code_challenge(verifier)
    return challenge


def new_random() -> str:
    """An unguessable ``state`` or ``nonce`` value."""
    value: str = generate_token(43)
    return value


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    issuer: str
    client_id: str
    timeout_s: float


@dataclass(slots=True)
class Provider:
    """The cached view of one organisation's provider; all calls bounded by ``timeout_s``."""

    settings: ProviderSettings
    http: aiohttp.ClientSession
    _metadata: dict[str, Any] | None = None
    _metadata_at: float = 0.0
    _keys: KeySet | None = None
    _keys_at: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(MAX_CALLS_IN_FLIGHT))

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """One HTTP call answering JSON, bounded in time and in size."""
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        try:
            async with (
                asyncio.timeout(self.settings.timeout_s),
                self._gate,
                self.http.request(method, url, timeout=timeout, **kwargs) as resp,
            ):
                raw = await resp.content.read(MAX_DOCUMENT_BYTES + 1)
                status = resp.status
        except TimeoutError:
            raise ProviderError(
                f"no answer from {url} in {self.settings.timeout_s:g} s", timeout=True
            ) from None
        except aiohttp.ClientError as exc:
            raise ProviderError(f"{url}: {type(exc).__name__}") from None
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise ProviderError(f"{url}: answer too large")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ProviderError(f"{url}: HTTP {status}, not JSON") from None
        if status == 400 and isinstance(body, dict) and body.get("error") == "invalid_grant":
            raise TokenRejected("the provider refused the code (invalid_grant)")
        if status != 200 or not isinstance(body, dict):
            raise ProviderError(f"{url}: HTTP {status}")
        return body

    async def metadata(self) -> dict[str, Any]:
        """The discovery document (OpenID Connect Discovery 1.0 §4), cached."""
        now = time.monotonic()
        if self._metadata is not None and now - self._metadata_at < METADATA_TTL_S:
            return self._metadata
        async with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < METADATA_TTL_S:
                return self._metadata
            issuer = self.settings.issuer
            doc = await self._call("GET", issuer.rstrip("/") + "/.well-known/openid-configuration")
            # Discovery §4.3: the issuer in the document must be exactly the one configured.
            if doc.get("issuer") != issuer:
                raise ProviderError("the discovery document names another issuer")
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(doc.get(name), str):
                    raise ProviderError(f"the discovery document has no {name}")
            self._metadata, self._metadata_at = doc, time.monotonic()
            return doc

    async def keys(self, *, refresh: bool = False) -> KeySet:
        """The provider's signing keys (JWKS), cached; ``refresh`` refetches, rate-limited."""
        now = time.monotonic()
        fresh = self._keys is not None and now - self._keys_at < KEYS_TTL_S
        if fresh and not (refresh and now - self._keys_at >= KEYS_REFRESH_MIN_S):
            assert self._keys is not None
            return self._keys
        metadata = await self.metadata()
        async with self._lock:
            if self._keys is not None and time.monotonic() - self._keys_at < KEYS_REFRESH_MIN_S:
                return self._keys
            doc = await self._call("GET", metadata["jwks_uri"])
            try:
                keys = KeySet.import_key_set(cast(Any, doc))
            except (JoseError, ValueError, KeyError, TypeError) as exc:
                raise ProviderError(f"unusable JWKS: {exc}") from None
            self._keys, self._keys_at = keys, time.monotonic()
            return keys

    async def authorize_url(self, *, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        """Where to send the browser (OpenID Connect Core §3.1.2.1, PKCE S256)."""
        metadata = await self.metadata()
        query = {
            "response_type": "code",
            "client_id": self.settings.client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid email profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge_of(verifier),
            "code_challenge_method": "S256",
        }
        return str(URL(metadata["authorization_endpoint"]).update_query(query))

    async def exchange(self, *, code: str, verifier: str, redirect_uri: str, client_secret: str) -> str:
        """Trade the code for tokens (Core §3.1.3.1, client_secret_basic); the raw ID token."""
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        body = await self._call(
            "POST",
            metadata["token_endpoint"],
            data=form,
            headers={
                "Accept": "application/json",
                "Authorization": _basic(self.settings.client_id, client_secret),
            },
        )
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise ProviderError("the token response has no id_token")
        return id_token

    async def verify(self, id_token: str, *, nonce: str, now_s: int | None = None) -> dict[str, Any]:
        """The ID token's claims after checking signature, iss, aud, azp, exp, iat and nonce
        (Core §3.1.3.7); :class:`TokenRejected` otherwise."""
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in ALLOWED_ALGS if a in offered]
        if not algorithms:
            raise ProviderError("the provider signs with no algorithm we accept")
        keys = await self.keys()
        try:
            try:
                token = jwt.decode(id_token, keys, algorithms=algorithms)
            except InvalidKeyIdError:
                keys = await self.keys(refresh=True)  # a rotated key: fetch the JWKS once more
                token = jwt.decode(id_token, keys, algorithms=algorithms)
        except (JoseError, ValueError) as exc:
            raise TokenRejected(f"bad ID token: {exc}") from None
        claims = dict(token.claims)
        check_claims(
            claims,
            issuer=self.settings.issuer,
            client_id=self.settings.client_id,
            nonce=nonce,
            now_s=int(time.time()) if now_s is None else now_s,
        )
        return claims


def _basic(client_id: str, client_secret: str) -> str:
    """client_secret_basic (RFC 6749 §2.3.1): both parts form-urlencoded, then Basic."""
    pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def check_claims(claims: Mapping[str, Any], *, issuer: str, client_id: str, nonce: str, now_s: int) -> None:
    """Core §3.1.3.7 steps 2-4, 9, 10, 11 on already signature-checked claims (pure)."""
    registry = jwt.JWTClaimsRegistry(
        now=lambda: now_s,
        leeway=CLOCK_SKEW_S,
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(dict(claims))
    except JoseError as exc:
        raise TokenRejected(f"ID token refused: {exc}") from None
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != client_id:
        raise TokenRejected("ID token refused: azp is not this client")


class Providers:
    """One :class:`Provider` per organisation, rebuilt when its settings change.

    The HTTP client is shared (no global connection limit: each provider's gate and time
    limit bound what it can hold), the caches and gates are not.
    """

    def __init__(self) -> None:
        self._http: aiohttp.ClientSession | None = None
        self._by_org: dict[str, Provider] = {}

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        self._by_org.clear()

    def get(self, org_id: str, settings: ProviderSettings) -> Provider:
        if self._http is None:
            connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
            self._http = aiohttp.ClientSession(connector=connector, raise_for_status=False)
        found = self._by_org.get(org_id)
        if found is None or found.settings != settings:
            found = Provider(settings, self._http)
            self._by_org[org_id] = found
        return found

    def forget(self, org_id: str) -> None:
        self._by_org.pop(org_id, None)
