"""Who may do what inside an organisation: roles, permissions and the grant table."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    OWNER = "owner"
    ORGANISER = "organiser"
    STAFF = "staff"
    ATTENDEE = "attendee"


class Permission(StrEnum):
    ORG_READ = "org.read"
    MEMBERS_READ = "members.read"
    MEMBERS_MANAGE = "members.manage"
    API_KEYS_MANAGE = "api_keys.manage"
    EVENTS_READ = "events.read"
    EVENTS_WRITE = "events.write"
    TICKETS_MANAGE = "tickets.manage"
    ORDERS_READ = "orders.read"
    CHECK_IN = "check_in"
    JOIN_AS_ORGANISER = "join.organiser"
    TEAMS_MANAGE = "teams.manage"
    PRIVACY_MANAGE = "privacy.manage"


_STAFF: Final = frozenset(
    {Permission.ORG_READ, Permission.EVENTS_READ, Permission.ORDERS_READ, Permission.CHECK_IN}
)
_ORGANISER: Final = frozenset(Permission) - {Permission.MEMBERS_MANAGE, Permission.PRIVACY_MANAGE}

GRANTS: Final[dict[Role, frozenset[Permission]]] = {
    Role.OWNER: frozenset(Permission),
    Role.ORGANISER: _ORGANISER,
    Role.STAFF: _STAFF,
    Role.ATTENDEE: frozenset({Permission.ORG_READ, Permission.EVENTS_READ}),
}

API_KEY_ROLES: Final = (Role.ORGANISER, Role.STAFF)
"""An API key acts with one of these roles; a key is never an owner."""


def allows(role: Role, permission: Permission) -> bool:
    return permission in GRANTS[role]
