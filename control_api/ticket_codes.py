"""Ticket codes: the bearer secret a ticket holder presents, derived by HMAC, never stored.

A code is ``<ticket id>.<mac>`` where the mac is HMAC-SHA256 over the organisation and
ticket id with the server's secret key; checking one needs no lookup of a stored secret,
and a retried order can show the same codes again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from control_api.ids import OrgId, TicketId, looks_like_id


def _mac(secret_key: bytes, org_id: OrgId, ticket_id: str) -> str:
    digest = hmac.new(secret_key, f"ticket:{org_id}:{ticket_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def make_code(secret_key: bytes, org_id: OrgId, ticket_id: TicketId) -> str:
    return f"{ticket_id}.{_mac(secret_key, org_id, ticket_id)}"


def parse_code(secret_key: bytes, org_id: OrgId, code: str) -> TicketId | None:
    """The ticket id of a genuine code of ``org_id``, else None."""
    ticket_id, _, mac = code.partition(".")
    if not looks_like_id(ticket_id) or not mac:
        return None
    if not hmac.compare_digest(mac, _mac(secret_key, org_id, ticket_id)):
        return None
    return TicketId(ticket_id)
