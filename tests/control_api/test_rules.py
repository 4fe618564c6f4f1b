"""Pure rules, no network: lifecycle, order states, roles, login limits, ticket codes, clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from control_api.clock import check_range, check_time_zone, format_ms, parse_ms
from control_api.ids import OrgId, TicketId, looks_like_id, new_id
from control_api.lifecycle import EventAction, EventState, next_state
from control_api.login_limit import Limits, allowed
from control_api.problems import ApiError
from control_api.roles import GRANTS, Permission, Role, allows
from control_api.ticket_codes import make_code, parse_code
from control_api.ticketing import OrderAction, OrderState, next_order_state

EVENT_ALLOWED = {
    (EventState.DRAFT, EventAction.PUBLISH): EventState.PUBLISHED,
    (EventState.PUBLISHED, EventAction.START): EventState.LIVE,
    (EventState.LIVE, EventAction.END): EventState.ENDED,
}
ORDER_ALLOWED = {
    (OrderState.PENDING, OrderAction.PAY): OrderState.PAID,
    (OrderState.PENDING, OrderAction.CANCEL): OrderState.CANCELLED,
    (OrderState.PAID, OrderAction.CANCEL): OrderState.CANCELLED,
    (OrderState.PAID, OrderAction.REFUND): OrderState.REFUNDED,
}


@pytest.mark.parametrize("state", list(EventState))
@pytest.mark.parametrize("action", list(EventAction))
def test_event_transition_table(state: EventState, action: EventAction) -> None:
    if (state, action) in EVENT_ALLOWED:
        assert next_state(state, action) is EVENT_ALLOWED[state, action]
    else:
        with pytest.raises(ApiError) as err:
            next_state(state, action)
        assert (err.value.status, err.value.code) == (409, "invalid_transition")


@pytest.mark.parametrize("state", list(OrderState))
@pytest.mark.parametrize("action", list(OrderAction))
def test_order_transition_table(state: OrderState, action: OrderAction) -> None:
    if (state, action) in ORDER_ALLOWED:
        assert next_order_state(state, action) is ORDER_ALLOWED[state, action]
    else:
        with pytest.raises(ApiError):
            next_order_state(state, action)


def test_roles_are_nested_and_only_owners_manage_members() -> None:
    assert GRANTS[Role.ATTENDEE] < GRANTS[Role.STAFF] < GRANTS[Role.ORGANISER] < GRANTS[Role.OWNER]
    assert [r for r in Role if allows(r, Permission.MEMBERS_MANAGE)] == [Role.OWNER]
    assert not allows(Role.STAFF, Permission.EVENTS_WRITE)
    assert allows(Role.STAFF, Permission.CHECK_IN)


def test_login_limit_rule() -> None:
    limits = Limits(per_email=5, per_client=50)
    assert allowed(4, 49, limits)
    assert not allowed(5, 0, limits)
    assert not allowed(0, 50, limits)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.text(max_size=80))
def test_ticket_codes_round_trip_and_forgeries_fail(secret: bytes, garbage: str) -> None:
    org = OrgId("org_AAAAAAAAAAAAAAAA")
    ticket = TicketId(new_id("tkt"))
    code = make_code(secret, org, ticket)
    assert parse_code(secret, org, code) == ticket
    assert parse_code(secret, OrgId("org_BBBBBBBBBBBBBBBB"), code) is None
    assert parse_code(secret + b"x", org, code) is None
    if garbage != code:
        assert parse_code(secret, org, garbage) is None


def test_ids_have_one_shape() -> None:
    made = {new_id("evt") for _ in range(100)}
    assert len(made) == 100 and all(looks_like_id(i) for i in made)
    for bad in (
        "evt_short",
        "EVT_AAAAAAAAAAAAAAAA",
        "evt_AAAAAAAAAAAAAAA}",
        "x" * 21,
        "evt_AAAAAAAAAAAAAAAA\n",
    ):
        assert not looks_like_id(bad)


def test_clock_rules() -> None:
    assert parse_ms("2030-05-01T09:00:00+02:00") == parse_ms("2030-05-01T07:00:00Z")
    assert format_ms(parse_ms("2030-05-01T07:00:00.250Z")) == "2030-05-01T07:00:00.250Z"
    check_range("2030-05-01T09:00:00+02:00", "2030-05-01T07:00:01Z", "x")
    with pytest.raises(ApiError, match="invalid_time_range"):
        check_range("2030-05-01T09:00:00+02:00", "2030-05-01T07:00:00Z", "x")
    check_time_zone("America/Argentina/Buenos_Aires")
    for bad in ("Mars/Base", "../../etc/passwd", "", "utc "):
        with pytest.raises(ApiError, match="invalid_time_zone"):
            check_time_zone(bad)
