"""Pure rules of join tokens (no network): issue, verify, every refusal code, JWKS round trip."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from control_api.tokens import (
    MAX_LIFETIME_S,
    JoinClaims,
    SigningKey,
    TokenError,
    issue,
    keys_from_jwks,
    make_claims,
    verify,
)

NOW_S = 1_900_000_000
KEY = SigningKey.generate("k1")


def claims(**changes: object) -> JoinClaims:
    base: dict[str, object] = {
        "participant_id": "ptc_AAAAAAAAAAAAAAAA",
        "org_id": "org_AAAAAAAAAAAAAAAA",
        "event_id": "evt_AAAAAAAAAAAAAAAA",
        "name": "Ada",
        "role": "attendee",
        "teams": ["team_AAAAAAAAAAAAAAAA"],
        "spaces": ["spc_AAAAAAAAAAAAAAAA"],
        "ticket_id": "tkt_AAAAAAAAAAAAAAAA",
        "now_s": NOW_S,
    }
    base.update(changes)
    return make_claims(**base)  # type: ignore[arg-type]


def codes_of(token: str, keys: object, now_s: int = NOW_S, **kw: str) -> str:
    with pytest.raises(TokenError) as err:
        verify(token, keys, now_s, **kw)  # type: ignore[arg-type]
    return err.value.code


def test_round_trip_through_jwks() -> None:
    c = claims()
    token = issue(c, KEY)
    jwks = {"keys": [KEY.public_jwk()]}
    assert verify(token, jwks, NOW_S + 60, event_id=c.event_id) == c
    assert verify(token, keys_from_jwks(jwks), NOW_S) == c
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["kid"]) == ("ES256", "k1")
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["iss"] == "venuekit" and payload["aud"] == "venuekit:join"
    assert payload["exp"] - payload["iat"] <= MAX_LIFETIME_S


def test_expired_wrong_event_and_not_yet_valid() -> None:
    c = claims()
    token = issue(c, KEY)
    keys = {"k1": KEY.private_key.public_key()}
    assert codes_of(token, keys, c.expires_at_s + 3600) == "token_expired"
    assert codes_of(token, keys, NOW_S - 3600) == "token_not_yet_valid"
    assert codes_of(token, keys, event_id="evt_BBBBBBBBBBBBBBBB") == "token_wrong_event"


def test_unknown_kid_and_rotated_out_key() -> None:
    token = issue(claims(), KEY)
    other = SigningKey.generate("k2")
    assert codes_of(token, {"keys": [other.public_jwk()]}) == "token_unknown_key"
    # same kid, different key material: the signature does not verify
    impostor = SigningKey.generate("k1")
    assert codes_of(token, {"keys": [impostor.public_jwk()]}) == "token_invalid"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_tampered_payload_and_alg_none_are_invalid() -> None:
    token = issue(claims(), KEY)
    keys = {"keys": [KEY.public_jwk()]}
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["role"] = "organiser"
    forged = f"{header}.{_b64(json.dumps(data).encode())}.{signature}"
    assert codes_of(forged, keys) == "token_invalid"
    none_header = _b64(json.dumps({"alg": "none", "kid": "k1"}).encode())
    assert codes_of(f"{none_header}.{payload}.", keys) == "token_invalid"
    assert codes_of("not-a-jwt", keys) == "token_invalid"


def test_tokens_longer_than_fifteen_minutes_are_refused() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        claims(lifetime_s=MAX_LIFETIME_S + 1)
    payload = claims().to_payload()
    payload["exp"] = payload["iat"] + MAX_LIFETIME_S + 60
    token = jwt.encode(payload, KEY.private_key, algorithm="ES256", headers={"kid": "k1"})
    assert codes_of(token, {"keys": [KEY.public_jwk()]}) == "token_invalid"


def test_claims_of_the_wrong_type_are_invalid() -> None:
    for name, value in (("teams", "team_1"), ("role", "admin"), ("sub", ""), ("tkt", 5), ("name", "x" * 65)):
        payload = claims().to_payload()
        payload[name] = value
        token = jwt.encode(payload, KEY.private_key, algorithm="ES256", headers={"kid": "k1"})
        assert codes_of(token, {"keys": [KEY.public_jwk()]}) == "token_invalid", name


def test_wrong_audience_or_issuer_is_invalid() -> None:
    for name in ("aud", "iss"):
        payload = claims().to_payload()
        payload[name] = "someone-else"
        token = jwt.encode(payload, KEY.private_key, algorithm="ES256", headers={"kid": "k1"})
        assert codes_of(token, {"keys": [KEY.public_jwk()]}) == "token_invalid", name


def test_may_enter_respects_team_rooms() -> None:
    c = claims(spaces=["*"], teams=["team_A"])
    assert c.may_enter("spc_any")
    assert c.may_enter("spc_room", "team_A")
    assert not c.may_enter("spc_room", "team_B")
    organiser = claims(spaces=["*"], role="organiser", teams=[])
    assert organiser.may_enter("spc_room", "team_B")


def test_pem_round_trip_keeps_the_key() -> None:
    copy = SigningKey.from_pem("k1", KEY.to_pem())
    token = issue(claims(), copy)
    assert verify(token, {"k1": KEY.private_key.public_key()}, NOW_S).name == "Ada"
    assert isinstance(copy.private_key, ec.EllipticCurvePrivateKey)
