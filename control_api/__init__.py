"""REST control API: organisations, events, venues, teams, tickets and join tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from control_api.app import bootstrap_org, create_app

__all__ = ["bootstrap_org", "create_app"]


def __getattr__(name: str) -> Any:
    # Lazy, so that ``import control_api.tokens`` (signalling) loads no aiohttp or Redis code.
    if name in __all__:
        from control_api import app  # noqa: PLC0415

        return getattr(app, name)
    raise AttributeError(name)
