"""Join tokens: the pure rules to issue and verify them (ES256 JWTs, see docs/join-token.md).

This module does no I/O and imports neither aiohttp nor Redis: signalling imports it to
admit sockets. Time is an argument (``now_s``). Verification checks the signature with the
key named by the header's ``kid``, then issuer, audience, lifetime and every claim's type;
whether the ticket or participant was revoked is a separate check
(:mod:`control_api.revocation`), because it needs Redis.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ISSUER: Final = "venuekit"
AUDIENCE: Final = "venuekit:join"
ALGORITHM: Final = "ES256"
MAX_LIFETIME_S: Final = 15 * 60
DEFAULT_LIFETIME_S: Final = 10 * 60
CLOCK_SKEW_S: Final = 30
ROLES: Final = frozenset({"organiser", "speaker", "attendee"})
ALL_SPACES: Final = "*"

PublicKeys = Mapping[str, ec.EllipticCurvePublicKey]
"""Verification keys by ``kid``."""


class TokenError(Exception):
    """A token was refused; ``code`` is stable (``token_invalid``, ``token_expired``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class JoinClaims:
    """What a join token grants: one participant, one event, a role, teams and spaces."""

    participant_id: str
    org_id: str
    event_id: str
    name: str
    role: str
    teams: tuple[str, ...]
    spaces: tuple[str, ...]
    ticket_id: str | None
    issued_at_s: int
    not_before_s: int
    expires_at_s: int
    token_id: str
    analytics: bool = True
    """False when the participant declined analytics: counted for billing, never profiled."""

    def may_enter(self, space_id: str, space_team_id: str | None = None) -> bool:
        """Whether the token lets its holder into ``space_id`` (a team room needs the team)."""
        if space_team_id is not None and self.role != "organiser" and space_team_id not in self.teams:
            return False
        return ALL_SPACES in self.spaces or space_id in self.spaces

    def to_payload(self) -> dict[str, Any]:
        return {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": self.participant_id,
            "org": self.org_id,
            "evt": self.event_id,
            "name": self.name,
            "role": self.role,
            "teams": list(self.teams),
            "spaces": list(self.spaces),
            "tkt": self.ticket_id,
            "iat": self.issued_at_s,
            "nbf": self.not_before_s,
            "exp": self.expires_at_s,
            "jti": self.token_id,
            "anl": self.analytics,
        }


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private ES256 key and its id."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, kid: str | None = None) -> SigningKey:
        return cls(kid or "k_" + secrets.token_urlsafe(12), ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, kid: str, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("not an EC private key")
        return cls(kid, key)

    def to_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def public_jwk(self) -> dict[str, Any]:
        jwk = ECAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        assert isinstance(jwk, dict)
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": jwk["x"],
            "y": jwk["y"],
            "kid": self.kid,
            "alg": ALGORITHM,
            "use": "sig",
        }


def make_claims(
    *,
    participant_id: str,
    org_id: str,
    event_id: str,
    name: str,
    role: str,
    teams: Sequence[str],
    spaces: Sequence[str],
    ticket_id: str | None,
    now_s: int,
    lifetime_s: int = DEFAULT_LIFETIME_S,
    analytics: bool = True,
) -> JoinClaims:
    """Claims for a token issued at ``now_s``; refuses what the token format forbids."""
    if not 0 < lifetime_s <= MAX_LIFETIME_S:
        raise ValueError(f"lifetime must be 1..{MAX_LIFETIME_S} s")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    if not 1 <= len(name) <= 64:
        raise ValueError("name must have 1 to 64 characters")
    return JoinClaims(
        participant_id=participant_id,
        org_id=org_id,
        event_id=event_id,
        name=name,
        role=role,
        teams=tuple(teams),
        spaces=tuple(spaces),
        ticket_id=ticket_id,
        issued_at_s=now_s,
        not_before_s=now_s,
        expires_at_s=now_s + lifetime_s,
        token_id=secrets.token_urlsafe(16),
        analytics=analytics,
    )


def issue(claims: JoinClaims, key: SigningKey) -> str:
    """The compact JWT of ``claims`` signed with ``key`` (its ``kid`` in the header)."""
    return jwt.encode(claims.to_payload(), key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, ec.EllipticCurvePublicKey]:
    """Verification keys from a JWKS document (``{"keys": [...]}``); skips non-ES256 entries."""
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for entry in jwks.get("keys", []):
        if not isinstance(entry, dict) or entry.get("kty") != "EC" or entry.get("crv") != "P-256":
            continue
        key = ECAlgorithm.from_jwk(dict(entry))
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(entry.get("kid"), str):
            keys[entry["kid"]] = key
    return keys


def _str(payload: Mapping[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise TokenError("token_invalid", f"claim {name!r} must be a non-empty string")
    return value


def _int(payload: Mapping[str, Any], name: str) -> int:
    value = payload.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise TokenError("token_invalid", f"claim {name!r} must be an integer")
    return value


def _strings(payload: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = payload.get(name)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise TokenError("token_invalid", f"claim {name!r} must be a list of strings")
    return tuple(value)


def verify(
    token: str,
    keys: PublicKeys | Mapping[str, Any],
    now_s: int,
    *,
    event_id: str | None = None,
) -> JoinClaims:
    """The claims of a valid ``token``, else :class:`TokenError`.

    ``keys`` is either verification keys by ``kid`` or a JWKS document. ``event_id``, when
    given, must be the token's event (``token_wrong_event``). Codes: ``token_invalid``,
    ``token_unknown_key``, ``token_expired``, ``token_not_yet_valid``, ``token_wrong_event``.
    """
    by_kid = keys_from_jwks(keys) if "keys" in keys else keys
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise TokenError("token_invalid", f"not a JWT: {exc}") from None
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise TokenError("token_invalid", "the header must name alg ES256 and a kid")
    key = by_kid.get(kid)
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TokenError("token_unknown_key", f"no verification key with kid {kid!r}")
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenError("token_invalid", str(exc)) from None
    claims = _claims(payload)
    if claims.expires_at_s - claims.issued_at_s > MAX_LIFETIME_S or claims.not_before_s < claims.issued_at_s:
        raise TokenError("token_invalid", "the token's lifetime is longer than allowed")
    if now_s >= claims.expires_at_s + CLOCK_SKEW_S:
        raise TokenError("token_expired", "the token has expired")
    if now_s + CLOCK_SKEW_S < claims.not_before_s:
        raise TokenError("token_not_yet_valid", "the token is not valid yet")
    if event_id is not None and claims.event_id != event_id:
        raise TokenError("token_wrong_event", "the token was issued for another event")
    return claims


def _claims(payload: Mapping[str, Any]) -> JoinClaims:
    role = _str(payload, "role")
    if role not in ROLES:
        raise TokenError("token_invalid", f"unknown role {role!r}")
    ticket = payload.get("tkt")
    if ticket is not None and not isinstance(ticket, str):
        raise TokenError("token_invalid", "claim 'tkt' must be a string or null")
    analytics = payload.get("anl", True)
    if not isinstance(analytics, bool):
        raise TokenError("token_invalid", "claim 'anl' must be a boolean")
    name = _str(payload, "name")
    if len(name) > 64:
        raise TokenError("token_invalid", "claim 'name' is longer than 64 characters")
    return JoinClaims(
        participant_id=_str(payload, "sub"),
        org_id=_str(payload, "org"),
        event_id=_str(payload, "evt"),
        name=name,
        role=role,
        teams=_strings(payload, "teams"),
        spaces=_strings(payload, "spaces"),
        ticket_id=ticket,
        issued_at_s=_int(payload, "iat"),
        not_before_s=_int(payload, "nbf"),
        expires_at_s=_int(payload, "exp"),
        token_id=_str(payload, "jti"),
        analytics=analytics,
    )
