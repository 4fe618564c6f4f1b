"""The OpenAPI 3.1 document of the control API: every route, body and response shape.

It is the single source of the API's shapes: handlers validate request bodies against
``DOCUMENT["components"]["schemas"]`` (see :func:`control_api.http_support.read_body`), the
server serves it at ``GET /api/v1/openapi.json``, and the tests check that every route is
described here and that every response validates against it.
"""

from __future__ import annotations

import re
from typing import Any, Final

from control_api.ids import ID_PATTERN
from control_api.problems import KNOWN_CODES

Schema = dict[str, Any]

_ID: Final[Schema] = {"type": "string", "pattern": ID_PATTERN}
_NAME: Final[Schema] = {"type": "string", "minLength": 1, "maxLength": 200}
_TIME: Final[Schema] = {"type": "string", "format": "date-time", "maxLength": 40}
_EMAIL: Final[Schema] = {"type": "string", "format": "email", "maxLength": 254}
_ROLE: Final[Schema] = {"type": "string", "enum": ["owner", "organiser", "staff", "attendee"]}
_MINOR: Final[Schema] = {"type": "integer", "minimum": 0, "maximum": 100_000_000}
_LABEL: Final = "[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?"


def _obj(required: list[str], optional: dict[str, Schema] | None = None, **props: Schema) -> Schema:
    properties = dict(props)
    properties.update(optional or {})
    missing = set(required) - set(properties)
    assert not missing, missing
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": False}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_of(name: str) -> Schema:
    return _obj(["items"], items={"type": "array", "items": _ref(name)})


_DAYS: Final[Schema] = {"type": "integer", "minimum": 1, "maximum": 3650}
_ITEMS: Final[Schema] = {"type": "array", "items": {"type": "object"}}
_PRIVACY_SCHEMAS: Final[dict[str, Schema]] = {
    "PrivacySubject": _obj(["email"], email=_EMAIL),
    "ErasureConfirmation": _obj(["confirm"], confirm={"const": True}),
    "PersonalDataOrg": {
        "type": "object",
        "required": ["org_id", "membership", "orders", "tickets", "participants", "consents"],
        "properties": {
            "org_id": _ID,
            "membership": {"type": ["string", "null"]},
            "orders": _ITEMS,
            "tickets": _ITEMS,
            "participants": _ITEMS,
            "consents": _ITEMS,
        },
        "additionalProperties": _ITEMS,
        "description": "one organisation's data; chat_messages and attendance come from the chat "
        "and analytics packages",
    },
    "PersonalData": _obj(
        ["generated_at", "profile", "organisations"],
        generated_at=_TIME,
        profile={"type": ["object", "null"]},
        organisations={"type": "array", "items": _ref("PersonalDataOrg")},
    ),
    "ErasureResult": _obj(
        [
            "erased_at",
            "subject",
            "orders_anonymised",
            "tickets_revoked",
            "participants_erased",
            "records_changed",
        ],
        erased_at=_TIME,
        subject={"type": "string"},
        orders_anonymised={"type": "integer", "minimum": 0},
        tickets_revoked={"type": "integer", "minimum": 0},
        participants_erased={"type": "integer", "minimum": 0},
        records_changed={"type": "integer", "minimum": 0},
    ),
    "PrivacySettings": _obj(
        ["chat_days", "analytics_days", "recordings_days"],
        chat_days=_DAYS,
        analytics_days=_DAYS,
        recordings_days=_DAYS,
    ),
    "PrivacySettingsPatch": {
        **_obj([], {"chat_days": _DAYS, "analytics_days": _DAYS, "recordings_days": _DAYS}),
        "minProperties": 1,
    },
    "AuditEntry": _obj(
        ["id", "at", "action", "actor", "subject", "detail"],
        id={"type": "string"},
        at=_TIME,
        action={"type": "string", "enum": ["export", "erase", "settings"]},
        actor=_obj(
            ["kind", "id"],
            kind={"type": "string", "enum": ["member", "api_key", "subject"]},
            id={"type": ["string", "null"]},
        ),
        subject={"type": "string"},
        detail={"type": "object"},
    ),
    "AuditList": _list_of("AuditEntry"),
}

SCHEMAS: Final[dict[str, Schema]] = {
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "code", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "code": {"type": "string", "enum": sorted(KNOWN_CODES)},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": _obj(["path", "message"], path={"type": "string"}, message={"type": "string"}),
            },
        },
        "additionalProperties": False,
    },
    "Password": {"type": "string", "minLength": 10, "maxLength": 256},
    "Owner": _obj(
        ["email", "password", "name"],
        email=_EMAIL,
        password=_ref("Password"),
        name={"type": "string", "minLength": 1, "maxLength": 120},
    ),
    "OrgCreate": _obj(["name", "owner"], name=_NAME, owner=_ref("Owner")),
    "Org": _obj(["id", "name", "created_at"], id=_ID, name=_NAME, created_at=_TIME),
    "OrgCreated": _obj(["org", "owner_user_id"], org=_ref("Org"), owner_user_id=_ID),
    "Login": _obj(
        ["email", "password"], email=_EMAIL, password={"type": "string", "minLength": 1, "maxLength": 256}
    ),
    "Membership": _obj(["org_id", "role"], org_id=_ID, role=_ROLE),
    "Session": _obj(
        ["user_id", "csrf_token", "expires_at", "memberships"],
        user_id=_ID,
        csrf_token={"type": "string"},
        expires_at=_TIME,
        memberships={"type": "array", "items": _ref("Membership")},
    ),
    "Me": _obj(
        ["user_id", "email", "name", "memberships"],
        user_id=_ID,
        email=_EMAIL,
        name={"type": "string"},
        memberships={"type": "array", "items": _ref("Membership")},
    ),
    "MemberCreate": _obj(
        ["email", "name", "role"],
        {"password": _ref("Password")},
        email=_EMAIL,
        name={"type": "string", "minLength": 1, "maxLength": 120},
        role=_ROLE,
    ),
    "Member": _obj(
        ["user_id", "email", "name", "role"], user_id=_ID, email=_EMAIL, name={"type": "string"}, role=_ROLE
    ),
    "MemberList": _list_of("Member"),
    "ApiKeyCreate": _obj(
        ["name", "role"],
        name={"type": "string", "minLength": 1, "maxLength": 80},
        role={"enum": ["organiser", "staff"]},
    ),
    "ApiKey": _obj(
        ["id", "name", "role", "created_at"],
        id=_ID,
        name={"type": "string"},
        role={"type": "string", "enum": ["organiser", "staff"]},
        created_at=_TIME,
    ),
    "ApiKeyCreated": _obj(
        ["id", "name", "role", "created_at", "secret"],
        id=_ID,
        name={"type": "string"},
        role={"type": "string", "enum": ["organiser", "staff"]},
        created_at=_TIME,
        secret={"type": "string", "description": "shown once; send as `Authorization: Bearer <secret>`"},
    ),
    "ApiKeyList": _list_of("ApiKey"),
    "EventCreate": _obj(
        ["title", "time_zone", "starts_at", "ends_at", "capacity"],
        {
            "description": {"type": "string", "maxLength": 10_000},
            "team_size_max": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        title=_NAME,
        time_zone={"type": "string", "minLength": 1, "maxLength": 64},
        starts_at=_TIME,
        ends_at=_TIME,
        capacity={"type": "integer", "minimum": 1, "maximum": 1_000_000},
    ),
    "EventPatch": {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "title": _NAME,
            "description": {"type": "string", "maxLength": 10_000},
            "time_zone": {"type": "string", "minLength": 1, "maxLength": 64},
            "starts_at": _TIME,
            "ends_at": _TIME,
            "capacity": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
            "team_size_max": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        "additionalProperties": False,
    },
    "Event": _obj(
        [
            "id",
            "org_id",
            "title",
            "description",
            "time_zone",
            "starts_at",
            "ends_at",
            "capacity",
            "team_size_max",
            "state",
            "created_at",
        ],
        id=_ID,
        org_id=_ID,
        title=_NAME,
        description={"type": "string"},
        time_zone={"type": "string"},
        starts_at=_TIME,
        ends_at=_TIME,
        capacity={"type": "integer", "minimum": 1},
        team_size_max={"type": "integer", "minimum": 1},
        state={"type": "string", "enum": ["draft", "published", "live", "ended"]},
        created_at=_TIME,
    ),
    "EventList": _list_of("Event"),
    "SpaceCreate": _obj(
        ["name", "kind", "capacity"],
        name=_NAME,
        kind={"type": "string", "enum": ["stage", "room"]},
        capacity={"type": "integer", "minimum": 1, "maximum": 100_000},
    ),
    "Space": _obj(
        ["id", "event_id", "name", "kind", "capacity", "team_id"],
        id=_ID,
        event_id=_ID,
        name=_NAME,
        kind={"type": "string", "enum": ["stage", "room", "team_room"]},
        capacity={"type": "integer", "minimum": 1},
        team_id={"type": ["string", "null"]},
    ),
    "SpaceList": _list_of("Space"),
    "SpacePatch": {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "name": _NAME,
            "kind": {"type": "string", "enum": ["stage", "room"]},
            "capacity": {"type": "integer", "minimum": 1, "maximum": 100_000},
        },
        "additionalProperties": False,
    },
    "TeamPatch": {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 80},
            "captain": {**_ID, "description": "participant id of a member"},
            "size_max": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        "additionalProperties": False,
    },
    "AgendaItemCreate": _obj(
        ["title", "space_id", "starts_at", "ends_at"],
        title=_NAME,
        space_id=_ID,
        starts_at=_TIME,
        ends_at=_TIME,
    ),
    "AgendaItem": _obj(
        ["id", "event_id", "title", "space_id", "starts_at", "ends_at"],
        id=_ID,
        event_id=_ID,
        title=_NAME,
        space_id=_ID,
        starts_at=_TIME,
        ends_at=_TIME,
    ),
    "AgendaItemList": _list_of("AgendaItem"),
    "PublicEvent": _obj(
        [
            "id",
            "org_id",
            "title",
            "description",
            "time_zone",
            "starts_at",
            "ends_at",
            "state",
            "agenda",
            "ticket_types",
        ],
        id=_ID,
        org_id=_ID,
        title=_NAME,
        description={"type": "string"},
        time_zone={"type": "string"},
        starts_at=_TIME,
        ends_at=_TIME,
        state={"type": "string", "enum": ["published", "live", "ended"]},
        agenda={
            "type": "array",
            "items": _obj(
                ["id", "title", "starts_at", "ends_at", "space_id", "space_name"],
                id=_ID,
                title=_NAME,
                starts_at=_TIME,
                ends_at=_TIME,
                space_id=_ID,
                space_name={"type": "string"},
            ),
        },
        ticket_types={
            "type": "array",
            "description": "ticket types whose sales window is open now (none unless published or live)",
            "items": _obj(
                [
                    "id",
                    "name",
                    "price_minor",
                    "currency",
                    "sales_end",
                    "per_order_max",
                    "invite_only",
                    "sold_out",
                ],
                id=_ID,
                name=_NAME,
                price_minor=_MINOR,
                currency={"type": "string"},
                sales_end=_TIME,
                per_order_max={"type": "integer", "minimum": 1},
                invite_only={"type": "boolean"},
                sold_out={"type": "boolean"},
            ),
        },
    ),
    "TeamCreate": _obj(["name"], name={"type": "string", "minLength": 1, "maxLength": 80}),
    "Team": _obj(
        ["id", "event_id", "name", "captain", "members", "size_max", "space_id"],
        id=_ID,
        event_id=_ID,
        name={"type": "string"},
        captain={"type": ["string", "null"]},
        members={"type": "array", "items": _ID},
        size_max={"type": "integer", "minimum": 1},
        space_id=_ID,
    ),
    "TeamList": _list_of("Team"),
    "TicketTypeCreate": _obj(
        ["name", "price_minor", "currency", "quota", "sales_start", "sales_end", "per_order_max"],
        {
            "invite_only": {"type": "boolean"},
            "role": {"type": "string", "enum": ["attendee", "speaker"]},
        },
        name=_NAME,
        price_minor=_MINOR,
        currency={"type": "string", "pattern": "^[A-Z]{3}$"},
        quota={"type": "integer", "minimum": 0, "maximum": 1_000_000},
        sales_start=_TIME,
        sales_end=_TIME,
        per_order_max={"type": "integer", "minimum": 1, "maximum": 100},
    ),
    "TicketTypePatch": {
        "type": "object",
        "minProperties": 1,
        "properties": {
            "name": _NAME,
            "quota": {"type": "integer", "minimum": 0, "maximum": 1_000_000},
            "sales_start": _TIME,
            "sales_end": _TIME,
            "per_order_max": {"type": "integer", "minimum": 1, "maximum": 100},
        },
        "additionalProperties": False,
    },
    "TicketType": _obj(
        [
            "id",
            "event_id",
            "name",
            "price_minor",
            "currency",
            "quota",
            "sold",
            "sales_start",
            "sales_end",
            "per_order_max",
            "invite_only",
            "role",
        ],
        id=_ID,
        event_id=_ID,
        name=_NAME,
        price_minor=_MINOR,
        currency={"type": "string"},
        quota={"type": "integer", "minimum": 0},
        sold={"type": "integer", "minimum": 0},
        sales_start=_TIME,
        sales_end=_TIME,
        per_order_max={"type": "integer", "minimum": 1},
        invite_only={"type": "boolean"},
        role={"type": "string", "enum": ["attendee", "speaker"]},
    ),
    "TicketTypeList": _list_of("TicketType"),
    "InviteCreate": _obj(
        ["ticket_type_id", "max_uses"],
        ticket_type_id=_ID,
        max_uses={"type": "integer", "minimum": 1, "maximum": 10_000},
    ),
    "Invite": _obj(
        ["code", "ticket_type_id", "max_uses", "uses"],
        code={"type": "string"},
        ticket_type_id=_ID,
        max_uses={"type": "integer", "minimum": 1},
        uses={"type": "integer", "minimum": 0},
    ),
    "Buyer": _obj(["name", "email"], name={"type": "string", "minLength": 1, "maxLength": 120}, email=_EMAIL),
    "OrderCreate": _obj(
        ["ticket_type_id", "quantity", "buyer"],
        {"invite_code": {"type": "string", "minLength": 1, "maxLength": 64}},
        ticket_type_id=_ID,
        quantity={"type": "integer", "minimum": 1, "maximum": 100},
        buyer=_ref("Buyer"),
    ),
    "Attendance": _obj(
        ["event_id", "unique_participants", "participant_minutes", "sessions", "spaces", "participants"],
        event_id={"type": "string"},
        unique_participants={"type": "integer", "minimum": 0},
        participant_minutes={"type": "number", "minimum": 0},
        sessions={"type": "integer", "minimum": 0},
        spaces={
            "type": "array",
            "items": _obj(
                ["space_id", "unique_participants", "minutes"],
                space_id={"type": "string"},
                unique_participants={"type": "integer", "minimum": 0},
                minutes={"type": "number", "minimum": 0},
            ),
        },
        participants={
            "type": "array",
            "items": _obj(
                ["participant_id", "minutes"],
                participant_id={"type": "string"},
                minutes={"type": "number", "minimum": 0},
            ),
        },
    ),
    "Freshness": _obj(
        ["last_event_ms", "folded_ms", "lag_entries", "lag_seconds"],
        last_event_ms={"type": ["integer", "null"]},
        folded_ms={"type": ["integer", "null"]},
        lag_entries={"type": "integer", "minimum": 0},
        lag_seconds={"type": "number", "minimum": 0},
    ),
    "BilledSession": _obj(
        ["start_ms", "end_ms", "minutes", "opened_by", "closed_by"],
        start_ms={"type": "integer"},
        end_ms={"type": "integer"},
        minutes={"type": "number", "minimum": 0},
        opened_by={"type": "string"},
        closed_by={"type": ["string", "null"]},
    ),
    "EventBilling": _obj(
        [
            "event_id",
            "from",
            "to",
            "unique_participants",
            "participant_minutes",
            "sessions",
            "participants",
            "freshness",
        ],
        event_id={"type": "string"},
        to=_TIME,
        unique_participants={"type": "integer", "minimum": 0},
        participant_minutes={"type": "number", "minimum": 0},
        sessions={"type": "integer", "minimum": 0},
        participants={
            "type": "array",
            "items": _obj(
                ["participant_id", "minutes", "sessions"],
                participant_id={"type": "string"},
                minutes={"type": "number", "minimum": 0},
                sessions={"type": "array", "items": _ref("BilledSession")},
            ),
        },
        freshness=_ref("Freshness"),
        **{"from": _TIME},
    ),
    "OrgBilling": _obj(
        ["org_id", "from", "to", "lines", "unique_participants", "participant_minutes", "freshness"],
        org_id=_ID,
        to=_TIME,
        lines={
            "type": "array",
            "items": _obj(
                ["event_id", "title", "unique_participants", "participant_minutes", "sessions"],
                event_id={"type": "string"},
                title={"type": "string"},
                unique_participants={"type": "integer", "minimum": 0},
                participant_minutes={"type": "number", "minimum": 0},
                sessions={"type": "integer", "minimum": 0},
            ),
        },
        unique_participants={"type": "integer", "minimum": 0},
        participant_minutes={"type": "number", "minimum": 0},
        freshness=_ref("Freshness"),
        **{"from": _TIME},
    ),
    "EngagementFigures": _obj(
        ["chat_messages", "reactions", "hands_raised", "speaking_minutes", "stage_minutes"],
        chat_messages={"type": "integer", "minimum": 0},
        reactions={"type": "integer", "minimum": 0},
        hands_raised={"type": "integer", "minimum": 0},
        speaking_minutes={"type": "number", "minimum": 0},
        stage_minutes={"type": "number", "minimum": 0},
    ),
    "Engagement": _obj(
        [
            "event_id",
            "unique_participants",
            "participants_online",
            "sessions",
            "participant_minutes",
            "participants_profiled",
            "participants_not_profiled",
            "engagement",
            "spaces",
            "event_wide_engagement",
            "participants",
            "concurrency",
            "freshness",
        ],
        event_id={"type": "string"},
        unique_participants={"type": "integer", "minimum": 0},
        participants_online={"type": "integer", "minimum": 0},
        sessions={"type": "integer", "minimum": 0},
        participant_minutes={"type": "number", "minimum": 0},
        participants_profiled={"type": "integer", "minimum": 0},
        participants_not_profiled={"type": "integer", "minimum": 0},
        engagement=_ref("EngagementFigures"),
        spaces={
            "type": "array",
            "items": _obj(
                ["space_id", "unique_participants", "participants_present", "minutes", "engagement"],
                space_id={"type": "string"},
                unique_participants={"type": "integer", "minimum": 0},
                participants_present={"type": "integer", "minimum": 0},
                minutes={"type": "number", "minimum": 0},
                engagement=_ref("EngagementFigures"),
            ),
        },
        event_wide_engagement=_ref("EngagementFigures"),
        participants={
            "type": "array",
            "items": _obj(
                [
                    "participant_id",
                    "online_minutes",
                    "chat_messages",
                    "reactions",
                    "hands_raised",
                    "speaking_minutes",
                    "stage_minutes",
                ],
                participant_id={"type": "string"},
                online_minutes={"type": "number", "minimum": 0},
                chat_messages={"type": "integer", "minimum": 0},
                reactions={"type": "integer", "minimum": 0},
                hands_raised={"type": "integer", "minimum": 0},
                speaking_minutes={"type": "number", "minimum": 0},
                stage_minutes={"type": "number", "minimum": 0},
            ),
        },
        concurrency={
            "type": "array",
            "items": _obj(
                ["at_ms", "participants"],
                at_ms={"type": "integer"},
                participants={"type": "integer", "minimum": 0},
            ),
        },
        freshness=_ref("Freshness"),
    ),
    "Order": _obj(
        [
            "id",
            "event_id",
            "ticket_type_id",
            "quantity",
            "state",
            "total_minor",
            "currency",
            "created_at",
            "ticket_ids",
            "pay_by",
        ],
        {"buyer": _ref("Buyer")},
        id=_ID,
        event_id=_ID,
        ticket_type_id=_ID,
        quantity={"type": "integer", "minimum": 1},
        state={"type": "string", "enum": ["pending", "paid", "cancelled", "refunded"]},
        total_minor=_MINOR,
        currency={"type": "string"},
        created_at=_TIME,
        ticket_ids={"type": "array", "items": _ID},
        pay_by={
            "type": ["string", "null"],
            "format": "date-time",
            "description": "a pending order not paid by then is cancelled",
        },
    ),
    "OrderList": _list_of("Order"),
    "IssuedTicket": _obj(["id", "code"], id=_ID, code={"type": "string"}),
    "OrderCreated": _obj(
        ["order", "tickets"], order=_ref("Order"), tickets={"type": "array", "items": _ref("IssuedTicket")}
    ),
    "Ticket": _obj(
        ["id", "event_id", "order_id", "ticket_type_id", "participant_id", "state", "checked_in_at"],
        id=_ID,
        event_id=_ID,
        order_id=_ID,
        ticket_type_id=_ID,
        participant_id=_ID,
        state={"type": "string", "enum": ["pending", "valid", "cancelled", "refunded", "revoked"]},
        checked_in_at={"type": ["string", "null"]},
    ),
    "CheckInCreate": _obj(["ticket_code"], ticket_code={"type": "string", "minLength": 1, "maxLength": 200}),
    "CheckIn": _obj(["ticket_id", "checked_in_at"], ticket_id=_ID, checked_in_at=_TIME),
    "CheckInList": _list_of("CheckIn"),
    "JoinTokenRequest": _obj(
        [], {"display_name": {"type": "string", "minLength": 1, "maxLength": 64}, "consent": _ref("Consent")}
    ),
    "Consent": _obj(
        ["version", "terms", "recording", "analytics"],
        version={"type": "string", "minLength": 1, "maxLength": 32},
        terms={"type": "boolean"},
        recording={"type": "boolean"},
        analytics={"type": "boolean"},
    ),
    **_PRIVACY_SCHEMAS,
    "JoinToken": _obj(
        ["token", "kid", "expires_at", "participant_id"],
        token={"type": "string"},
        kid={"type": "string"},
        expires_at=_TIME,
        participant_id=_ID,
    ),
    "SsoConfigPut": _obj(
        ["issuer", "client_id", "allowed_domains"],
        {
            "client_secret": {
                "type": "string",
                "minLength": 1,
                "maxLength": 512,
                "description": "write-only; required the first time, kept when omitted later",
            },
            "role_claim": {"type": "string", "maxLength": 100, "description": "e.g. `groups`"},
            "role_map": {
                "type": "object",
                "maxProperties": 50,
                "additionalProperties": {"type": "string", "enum": ["organiser", "staff", "attendee"]},
                "description": "claim value -> role; the highest mapped role wins",
            },
            "default_role": {"type": "string", "enum": ["organiser", "staff", "attendee"]},
            "grant_tickets": {"type": "array", "maxItems": 20, "items": _ref("SsoTicketGrant")},
            "timeout_s": {"type": "number", "minimum": 1, "maximum": 30},
        },
        issuer={"type": "string", "minLength": 8, "maxLength": 300, "description": "https URL"},
        client_id={"type": "string", "minLength": 1, "maxLength": 300},
        allowed_domains={
            "type": "array",
            "minItems": 1,
            "maxItems": 50,
            "items": {
                "type": "string",
                "maxLength": 253,
                "pattern": "^" + _LABEL + "(\\." + _LABEL + ")+$",
            },
        },
    ),
    "SsoTicketGrant": _obj(["event_id", "ticket_type_id"], event_id=_ID, ticket_type_id=_ID),
    "SsoConfig": _obj(
        [
            "issuer",
            "client_id",
            "allowed_domains",
            "role_claim",
            "role_map",
            "default_role",
            "grant_tickets",
            "timeout_s",
            "updated_at",
            "client_secret_set",
            "login_path",
        ],
        issuer={"type": "string"},
        client_id={"type": "string"},
        allowed_domains={"type": "array", "items": {"type": "string"}},
        role_claim={"type": "string"},
        role_map={"type": "object", "additionalProperties": {"type": "string"}},
        default_role={"type": "string", "enum": ["organiser", "staff", "attendee"]},
        grant_tickets={"type": "array", "items": _ref("SsoTicketGrant")},
        timeout_s={"type": "number"},
        updated_at=_TIME,
        client_secret_set={"type": "boolean"},
        login_path={"type": "string"},
    ),
    "GrantedTicket": _obj(
        ["id", "event_id", "ticket_type_id", "code"],
        id=_ID,
        event_id=_ID,
        ticket_type_id=_ID,
        code={"type": "string"},
    ),
    "GrantedTicketList": _list_of("GrantedTicket"),
    "Jwks": _obj(
        ["keys"],
        keys={
            "type": "array",
            "items": {
                "type": "object",
                "required": ["kty", "crv", "x", "y", "kid", "alg", "use"],
                "properties": {
                    "kty": {"const": "EC"},
                    "crv": {"const": "P-256"},
                    "x": {"type": "string"},
                    "y": {"type": "string"},
                    "kid": {"type": "string"},
                    "alg": {"const": "ES256"},
                    "use": {"const": "sig"},
                },
                "additionalProperties": False,
            },
        },
    ),
}

_PROBLEM_RESPONSE: Final[Schema] = {
    "description": "A problem document (RFC 9457) with a stable `code`",
    "content": {"application/problem+json": {"schema": _ref("Problem")}},
}


def _op(
    summary: str,
    status: int,
    response: str | None,
    *,
    body: str | None = None,
    auth: str = "member",
    idempotent: bool = False,
) -> Schema:
    responses: Schema = {"default": _PROBLEM_RESPONSE}
    if response is None:
        responses[str(status)] = {"description": "done"}
    else:
        responses[str(status)] = {
            "description": "ok",
            "content": {"application/json": {"schema": _ref(response)}},
        }
    op: Schema = {"summary": summary, "responses": responses}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _ref(body)}}}
    securities: dict[str, list[dict[str, list[str]]]] = {
        "public": [],
        "member": [{"session": []}, {"apiKey": []}],
        "session": [{"session": []}],
        "ticket": [{"ticket": []}, {"session": []}, {"apiKey": []}],
    }
    security = securities[auth]
    op["security"] = security
    if idempotent:
        op["parameters"] = [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$"},
                "description": "unguessable and unique per order, e.g. a UUID; kept 24 hours",
            }
        ]
    return op


def _with_query(op: Schema, **params: tuple[str, Schema]) -> Schema:
    """``op`` with optional query parameters (name -> (description, schema))."""
    query = [
        {"name": name, "in": "query", "required": False, "description": text, "schema": schema}
        for name, (text, schema) in params.items()
    ]
    return {**op, "parameters": [*op.get("parameters", []), *query]}


_ORG = "/orgs/{org_id}"
_EVT = _ORG + "/events/{event_id}"

PATHS: Final[dict[str, dict[str, Schema]]] = {
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "ok",
                    "content": {
                        "application/json": {"schema": {"type": "object", "required": ["openapi", "paths"]}}
                    },
                }
            },
        }
    },
    "/.well-known/jwks.json": {"get": _op("Public keys that verify join tokens", 200, "Jwks", auth="public")},
    "/orgs": {
        "post": _op(
            "Sign up: a new organisation and its owner", 201, "OrgCreated", body="OrgCreate", auth="public"
        )
    },
    "/sessions": {
        "post": _op("Log in; sets the session and CSRF cookies", 201, "Session", body="Login", auth="public")
    },
    "/sessions/current": {"delete": _op("Log out", 204, None, auth="session")},
    "/me": {"get": _op("The signed-in user", 200, "Me", auth="session")},
    _ORG: {"get": _op("An organisation", 200, "Org")},
    _ORG + "/members": {
        "get": _op("Members of the organisation", 200, "MemberList"),
        "post": _op("Add a member (creates the account when new)", 201, "Member", body="MemberCreate"),
    },
    _ORG + "/members/{user_id}": {
        "delete": _op("Remove a member; their join tokens stop working", 204, None)
    },
    _ORG + "/api-keys": {
        "get": _op("API keys of the organisation", 200, "ApiKeyList"),
        "post": _op(
            "Create an API key (the secret is shown once)", 201, "ApiKeyCreated", body="ApiKeyCreate"
        ),
    },
    _ORG + "/api-keys/{key_id}": {"delete": _op("Revoke an API key", 204, None)},
    _ORG + "/events": {
        "get": _op("Events of the organisation", 200, "EventList"),
        "post": _op("Create an event (draft)", 201, "Event", body="EventCreate"),
    },
    _EVT: {
        "get": _op("An event (members; ticket holders of the event)", 200, "Event", auth="ticket"),
        "patch": _op("Edit an event", 200, "Event", body="EventPatch"),
    },
    _EVT + "/public": {
        "get": _op(
            "The public page of a published event: its public fields, agenda (with stage names) "
            "and the ticket types on sale; a draft is 404 like an unknown event",
            200,
            "PublicEvent",
            auth="public",
        ),
    },
    _EVT + "/publish": {"post": _op("draft -> published", 200, "Event")},
    _EVT + "/start": {"post": _op("published -> live", 200, "Event")},
    _EVT + "/end": {"post": _op("live -> ended", 200, "Event")},
    _EVT + "/spaces": {
        "get": _op("Spaces of the event (members; ticket holders)", 200, "SpaceList", auth="ticket"),
        "post": _op("Create a stage or room", 201, "Space", body="SpaceCreate"),
    },
    _EVT + "/spaces/{space_id}": {
        "patch": _op(
            "Rename, resize, or turn a stage into a room and back (a team room keeps its kind; "
            "a stage with agenda sessions stays a stage)",
            200,
            "Space",
            body="SpacePatch",
        ),
        "delete": _op("Delete a stage or room without agenda sessions (not a team room)", 204, None),
    },
    _EVT + "/agenda": {
        "get": _op(
            "Agenda of the event, by start time (members; ticket holders)",
            200,
            "AgendaItemList",
            auth="ticket",
        ),
        "post": _op("Add an agenda session on a stage", 201, "AgendaItem", body="AgendaItemCreate"),
    },
    _EVT + "/teams": {
        "get": _op("Hackathon teams", 200, "TeamList", auth="ticket"),
        "post": _op(
            "Create a team (a ticket holder becomes its captain)",
            201,
            "Team",
            body="TeamCreate",
            auth="ticket",
        ),
    },
    _EVT + "/teams/{team_id}": {
        "patch": _op(
            "Rename a team (and its room) or hand the captaincy to a member (captain or organiser); "
            "change its size limit (organiser; never below its members)",
            200,
            "Team",
            body="TeamPatch",
            auth="ticket",
        ),
        "delete": _op("Delete a team, its memberships and its team room (organiser)", 204, None),
    },
    _EVT + "/teams/{team_id}/members": {
        "post": _op(
            "Join a team (the ticket holder of the Authorization header)", 200, "Team", auth="ticket"
        ),
    },
    _EVT + "/teams/{team_id}/members/{participant_id}": {
        "delete": _op("Leave a team, or remove a member (organiser)", 200, "Team", auth="ticket"),
    },
    _EVT + "/ticket-types": {
        "get": _op("Ticket types (public while the event is on sale)", 200, "TicketTypeList", auth="public"),
        "post": _op("Create a ticket type", 201, "TicketType", body="TicketTypeCreate"),
    },
    _EVT + "/ticket-types/{ticket_type_id}": {
        "patch": _op("Edit a ticket type", 200, "TicketType", body="TicketTypePatch"),
    },
    _EVT + "/invites": {"post": _op("Create an invite code", 201, "Invite", body="InviteCreate")},
    _EVT + "/attendance": {
        "get": _op(
            "Attendance for billing: unique participants (each person once) and online minutes, "
            "re-derived from the event's analytics log; ?format=csv gives one row per participant",
            200,
            "Attendance",
        ),
    },
    _EVT + "/billing": {
        "get": _op(
            "Billing detail of the event for ?from=&to= (RFC 3339; default: all until now): unique "
            "participants, participant-minutes, and each participant's sessions with the analytics "
            "events that opened and closed them; ?format=csv gives one row per session",
            200,
            "EventBilling",
        ),
    },
    _EVT + "/engagement": {
        "get": _op(
            "Live attendance and engagement (chat, reactions, hands, speaking and stage time) per "
            "event, space and participant, concurrency over time, and how fresh the figures are",
            200,
            "Engagement",
        ),
    },
    _ORG + "/billing": {
        "get": _op(
            "Billing of the organisation for ?from=&to= (RFC 3339): one line per event with unique "
            "participants and participant-minutes; ?format=csv gives the lines as CSV",
            200,
            "OrgBilling",
        ),
    },
    _EVT + "/orders": {
        "get": _op("Orders of the event", 200, "OrderList"),
        "post": _op(
            "Order tickets (public); retries with the same Idempotency-Key return the same order",
            201,
            "OrderCreated",
            body="OrderCreate",
            auth="public",
            idempotent=True,
        ),
    },
    _EVT + "/orders/{order_id}": {"get": _op("An order", 200, "Order")},
    _EVT + "/orders/{order_id}/pay": {
        "post": _op("pending -> paid (organiser or payment callback key)", 200, "Order")
    },
    _EVT + "/orders/{order_id}/cancel": {
        "post": _op(
            "pending or paid -> cancelled; frees the quota (unpaid orders are cancelled at pay_by)",
            200,
            "Order",
        )
    },
    _EVT + "/orders/{order_id}/refund": {"post": _op("paid -> refunded; frees the quota", 200, "Order")},
    _EVT + "/tickets/{ticket_id}": {"get": _op("A ticket", 200, "Ticket")},
    _EVT + "/tickets/{ticket_id}/revoke": {
        "post": _op("Revoke one ticket; its joins stop at once", 200, "Ticket")
    },
    _EVT + "/check-ins": {
        "get": _op("Check-ins of the event, in check-in order", 200, "CheckInList"),
        "post": _op("Check a ticket in (once)", 201, "CheckIn", body="CheckInCreate"),
    },
    _ORG + "/sso": {
        "get": _op("Single sign-on configuration (owner; never the client secret)", 200, "SsoConfig"),
        "put": _op("Configure OpenID Connect single sign-on (owner)", 200, "SsoConfig", body="SsoConfigPut"),
        "delete": _op("Remove single sign-on (owner)", 204, None),
    },
    _ORG + "/sso/login": {
        "get": _with_query(
            _op(
                "Start a single sign-on login: 302 to the provider (authorization code + PKCE)",
                302,
                None,
                auth="public",
            ),
            next=(
                "a path of this site to continue at after signing in",
                {"type": "string", "maxLength": 512},
            ),
        ),
    },
    _ORG + "/sso/tickets": {
        "get": _op("Tickets single sign-on granted to the signed-in user", 200, "GrantedTicketList"),
    },
    "/sso/callback": {
        "get": _with_query(
            _op(
                "The provider's redirect: verifies the ID token, signs in (session and CSRF cookies) "
                "and redirects (302) to the web client",
                302,
                None,
                auth="public",
            ),
            code=("the authorization code", {"type": "string", "maxLength": 2048}),
            state=("the state of the login started", {"type": "string", "maxLength": 512}),
            error=("the provider's refusal (OAuth 2.0 error code)", {"type": "string", "maxLength": 512}),
        ),
    },
    "/me/data": {
        "get": _op(
            "Everything held about the signed-in person (access export)", 200, "PersonalData", auth="session"
        )
    },
    "/me/erasure": {
        "post": _op(
            "Erase the signed-in person's data everywhere and delete the account",
            200,
            "ErasureResult",
            body="ErasureConfirmation",
            auth="session",
        )
    },
    _ORG + "/privacy/exports": {
        "post": _op(
            "Export a person's data in this organisation (owner)", 200, "PersonalData", body="PrivacySubject"
        )
    },
    _ORG + "/privacy/erasures": {
        "post": _op(
            "Erase a person's data in this organisation; financial records are kept anonymised (owner)",
            200,
            "ErasureResult",
            body="PrivacySubject",
        )
    },
    _ORG + "/privacy/settings": {
        "get": _op("Retention periods of chat, analytics and recordings (owner)", 200, "PrivacySettings"),
        "put": _op("Change retention periods (owner)", 200, "PrivacySettings", body="PrivacySettingsPatch"),
    },
    _ORG + "/privacy/audit": {
        "get": _op("Who exported or erased whose data, newest first; ?limit=1..500 (owner)", 200, "AuditList")
    },
    _EVT + "/join-tokens": {
        "post": _op(
            "Exchange a ticket (or an organiser session) for a join token",
            201,
            "JoinToken",
            body="JoinTokenRequest",
            auth="ticket",
        ),
    },
}


def _with_path_parameters(paths: dict[str, dict[str, Schema]]) -> dict[str, dict[str, Schema]]:
    """Declare every ``{name}`` of a path template as a required path parameter (OpenAPI 3.1)."""
    result: dict[str, dict[str, Schema]] = {}
    for template, ops in paths.items():
        names = re.findall(r"\{([^}]+)\}", template)
        item: dict[str, Any] = dict(ops)
        if names:
            item["parameters"] = [
                {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
            ]
        result[template] = item
    return result


DOCUMENT: Final[dict[str, Any]] = {
    "openapi": "3.1.0",
    "info": {
        "title": "VenueKit control API",
        "version": "1",
        "description": "Organisations, events, venues, teams, tickets and join tokens. Errors are "
        "application/problem+json documents with a stable `code`.",
    },
    "servers": [{"url": "/api/v1"}],
    "paths": _with_path_parameters(PATHS),
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": "vk_session",
                "description": "plus X-CSRF-Token on writes",
            },
            "apiKey": {"type": "http", "scheme": "bearer"},
            "ticket": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": "`Ticket <ticket code>`",
            },
        },
    },
}


def schema(name: str) -> Schema:
    return SCHEMAS[name]
