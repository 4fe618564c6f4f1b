"""Prometheus metrics of the control API (``venuekit_api_*``); request counts live in venuekit."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter

ORDERS_CREATED: Final = Counter("venuekit_api_orders_created_total", "Orders created (replays not counted)")
ORDERS_REFUSED: Final = Counter(
    "venuekit_api_orders_refused_total", "Orders refused, by problem code", ["code"]
)
TICKETS_SOLD: Final = Counter(
    "venuekit_api_tickets_sold_total", "Tickets that became valid (order paid, or free on creation)"
)
LOGINS_FAILED: Final = Counter(
    "venuekit_api_logins_failed_total", "Failed or rate-limited logins", ["reason"]
)
TOKENS_ISSUED: Final = Counter("venuekit_api_tokens_issued_total", "Join tokens issued, by role", ["role"])
SSO_LOGINS: Final = Counter(
    "venuekit_api_sso_logins_total", "Single sign-on callbacks, by outcome (ok or problem code)", ["outcome"]
)
