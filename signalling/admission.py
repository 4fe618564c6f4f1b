"""Admission: a socket is let in only with a valid, unrevoked join token.

The token rules are the control API's (``control_api.tokens``: signature by key id, issuer,
audience, expiry; ``control_api.revocation``: revoked tickets and participants). This module
adapts them to the gateway: the public keys come from a :class:`KeySource` and are cached
briefly, refreshed at once when a token names a key id not seen yet (a rotation).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, Final, Protocol

from control_api.revocation import ExistsReader, is_revoked
from control_api.tokens import JoinClaims, TokenError, keys_from_jwks, verify
from signalling.gateway import Admitted, GatewayError
from signalling.ids import EventId, ParticipantId, TeamId
from signalling.kinds import Role
from signalling.members import Member

KEY_CACHE_S: Final = 30.0


class KeySource(Protocol):
    async def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set of the keys join tokens are signed with."""
        ...


def member_of(claims: JoinClaims) -> Member:
    return Member(
        participant_id=ParticipantId(claims.participant_id),
        event_id=EventId(claims.event_id),
        display_name=claims.name,
        role=Role(claims.role),
        teams=frozenset(TeamId(t) for t in claims.teams),
        spaces=frozenset(claims.spaces),
        profiling=claims.analytics,
    )


class JoinTokenAdmitter:
    def __init__(self, keys: KeySource, revocations: ExistsReader) -> None:
        self._source = keys
        self._revocations = revocations
        self._keys: Mapping[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _current_keys(self, *, refresh: bool) -> Mapping[str, Any]:
        if refresh or time.monotonic() - self._fetched_at > KEY_CACHE_S:
            async with self._lock:
                self._keys = keys_from_jwks(await self._source.jwks())
                self._fetched_at = time.monotonic()
        return self._keys

    async def admit(self, token: str, now_s: float) -> Admitted:
        try:
            keys = await self._current_keys(refresh=False)
            try:
                claims = verify(token, keys, int(now_s))
            except TokenError as exc:
                if exc.code != "token_unknown_key":
                    raise
                claims = verify(token, await self._current_keys(refresh=True), int(now_s))
        except TokenError as exc:
            raise GatewayError(exc.code, exc.message) from None
        if await is_revoked(self._revocations, claims):
            raise GatewayError("token_revoked", "this ticket or participant has been revoked")
        return Admitted(
            member=member_of(claims),
            org_id=claims.org_id,
            token_id=claims.token_id,
            expires_at_s=float(claims.expires_at_s),
            ticket_id=claims.ticket_id,
        )
