"""Errors that reach a client: RFC 9457 ``application/problem+json`` with a stable ``code``.

Every refusal raised by a handler is an :class:`ApiError`; :func:`problem_middleware` turns it
(and aiohttp's own HTTP errors, an unreachable Redis, and anything unexpected) into a problem
document. A stack trace never leaves the process.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import orjson
import redis.exceptions
from aiohttp import web

log = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
TYPE_BASE: Final = "https://venuekit.dev/problems/"

_TITLES: Final[Mapping[str, str]] = {
    "bad_request": "Bad request",
    "malformed_json": "The body is not valid JSON",
    "validation_failed": "The body does not match the schema",
    "body_too_large": "The body is too large",
    "unsupported_media_type": "The body must be application/json",
    "unauthenticated": "Authentication required",
    "invalid_credentials": "Wrong e-mail or password",
    "login_rate_limited": "Too many failed logins",
    "csrf_failed": "CSRF token missing or wrong",
    "forbidden": "Your role does not allow this",
    "not_found": "No such resource",
    "method_not_allowed": "Method not allowed",
    "conflict": "Conflict with the current state",
    "email_taken": "E-mail already registered",
    "invalid_transition": "Transition not allowed from this state",
    "invalid_time_range": "The time range is invalid",
    "invalid_time_zone": "Unknown time zone",
    "event_not_editable": "The event can no longer be edited",
    "event_not_on_sale": "The event does not sell tickets now",
    "event_not_joinable": "The event cannot be joined now",
    "space_not_stage": "Agenda sessions must be bound to a stage",
    "team_full": "The team is full",
    "already_in_team": "Already a member of a team in this event",
    "not_in_team": "Not a member of this team",
    "captain_cannot_leave": "The captain cannot leave while others remain",
    "space_has_agenda": "The stage has agenda sessions; move or remove them first",
    "space_is_team_room": "A team room belongs to its team; change or delete the team",
    "idempotency_key_missing": "Idempotency-Key header required",
    "idempotency_key_invalid": "Idempotency-Key header malformed",
    "idempotency_key_reused": "Idempotency-Key reused with a different body",
    "sold_out": "Not enough tickets left",
    "event_full": "The event has no places left",
    "capacity_below_sold": "The capacity cannot go below the tickets already sold",
    "sales_closed": "The sales window is not open",
    "order_limit_exceeded": "Too many tickets in one order",
    "invite_required": "This ticket type needs an invite code",
    "invite_invalid": "Unknown invite code",
    "invite_exhausted": "The invite code has no uses left",
    "quota_below_sold": "The quota cannot go below the tickets already sold",
    "ticket_invalid": "The ticket is not valid",
    "already_checked_in": "The ticket is already checked in",
    "terms_not_accepted": "The terms must be accepted to join",
    "subject_not_found": "This organisation holds no data about this person",
    "subject_is_owner": "An owner's data cannot be erased while they own an organisation",
    "privacy_rate_limited": "Too many privacy requests",
    "sso_not_configured": "This organisation has no single sign-on",
    "sso_rate_limited": "Too many sign-in attempts from this address",
    "sso_state_invalid": "The sign-in attempt is unknown, expired or already used",
    "sso_denied": "The identity provider did not sign you in",
    "sso_token_rejected": "The identity provider's answer failed verification",
    "sso_email_not_allowed": "This e-mail address may not sign in to this organisation",
    "sso_account_exists": "An account with this e-mail exists; sign in with its password",
    "sso_provider_failed": "The identity provider failed",
    "sso_provider_timeout": "The identity provider did not answer in time",
    "attendance_unavailable": "Attendance is not served by this process",
    "service_unavailable": "The data store is unavailable",
    "internal_error": "Internal error",
}

KNOWN_CODES: Final = frozenset(_TITLES)


class ApiError(Exception):
    """A refusal with an HTTP status, a stable machine-readable code and a human detail."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str = "",
        *,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if code not in KNOWN_CODES:
            raise ValueError(f"undocumented problem code {code!r}")
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail or _TITLES[code]
        self.errors = errors
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": TYPE_BASE + self.code,
            "title": _TITLES[self.code],
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        if self.errors is not None:
            doc["errors"] = self.errors
        return doc


def problem_response(error: ApiError) -> web.Response:
    headers = {"Cache-Control": "no-store", **error.headers}
    if error.status == 401:
        # RFC 9110 section 11.6.1: a 401 names the schemes that would work.
        headers.setdefault("WWW-Authenticate", 'Bearer realm="venuekit", Ticket realm="venuekit"')
    return web.Response(
        status=error.status,
        body=orjson.dumps(error.body()),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=headers,
    )


_HTTP_CODES: Final[Mapping[int, str]] = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Render every error of the API as a problem document; never a stack trace."""
    try:
        return await handler(request)
    except ApiError as exc:
        return problem_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "bad_request" if exc.status < 500 else "internal_error")
        return problem_response(ApiError(exc.status, code, exc.reason))
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        log.warning("Redis unavailable in %s %s: %s", request.method, request.path, exc)
        return problem_response(
            ApiError(503, "service_unavailable", "try again shortly", headers={"Retry-After": "1"})
        )
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        return problem_response(ApiError(500, "internal_error", "The server failed; it is logged."))
