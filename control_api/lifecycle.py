"""The event lifecycle: draft -> published -> live -> ended, and which transitions are allowed."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from control_api.problems import ApiError


class EventState(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    LIVE = "live"
    ENDED = "ended"


class EventAction(StrEnum):
    PUBLISH = "publish"
    START = "start"
    END = "end"


TRANSITIONS: Final[dict[EventAction, tuple[frozenset[EventState], EventState]]] = {
    EventAction.PUBLISH: (frozenset({EventState.DRAFT}), EventState.PUBLISHED),
    EventAction.START: (frozenset({EventState.PUBLISHED}), EventState.LIVE),
    EventAction.END: (frozenset({EventState.LIVE}), EventState.ENDED),
}

EDITABLE: Final = frozenset({EventState.DRAFT, EventState.PUBLISHED, EventState.LIVE})
"""An ended event is history: it can be read, never changed."""

ON_SALE: Final = frozenset({EventState.PUBLISHED, EventState.LIVE})
JOINABLE: Final = frozenset({EventState.PUBLISHED, EventState.LIVE})


def next_state(current: EventState, action: EventAction) -> EventState:
    """The state after ``action``; ``invalid_transition`` (409) when ``current`` forbids it."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise ApiError(409, "invalid_transition", f"cannot {action.value} an event that is {current.value}")
    return target


def require_editable(current: EventState) -> None:
    if current not in EDITABLE:
        raise ApiError(409, "event_not_editable", f"the event is {current.value}")
