"""Wiring: build the aiohttp application of each role from validated settings.

This is the composition root: the only module that imports every package and connects
concrete classes to the Protocols the lower packages define.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from pathlib import Path
from typing import Final

import redis.asyncio as aioredis
from aiohttp import web

from venuekit import observability
from venuekit.edge import install_edge
from venuekit.redis_child import PrivateRedis
from venuekit.redis_pool import FastBlockingPool
from venuekit.settings import Settings, SettingsError
from venuekit.sfu_role import install_sfu
from web import STATIC_DIR

log = logging.getLogger(__name__)

REDIS_KEY: Final = web.AppKey("redis", aioredis.Redis)
SETTINGS_KEY: Final = web.AppKey("settings", Settings)


class Role(StrEnum):
    DEV = "dev"
    SIGNAL = "signal"
    SFU = "sfu"


def resolve_secret_key(settings: Settings, role: Role) -> str:
    """The signing secret: from the environment, or (``dev`` only) generated once per data dir."""
    if settings.secret_key:
        return settings.secret_key
    if role is not Role.DEV:
        raise SettingsError(
            f"VENUEKIT_SECRET_KEY is required for `venuekit {role}` "
            "(try: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    path = settings.data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    log.info("generated a development secret key in %s", path)
    return key


def resolve_node_secret(settings: Settings, role: Role) -> str:
    """The node API secret: ``VENUEKIT_NODE_SECRET``; else, for ``signal`` and ``sfu``, one derived
    from the signing secret (HMAC-SHA256, so it never reveals it); ``dev``: a fresh one per run.

    Call after the signing secret is resolved."""
    if settings.node_secret:
        return settings.node_secret
    if role is Role.DEV:
        return secrets.token_urlsafe(48)
    if not settings.secret_key:
        raise SettingsError(f"VENUEKIT_NODE_SECRET or VENUEKIT_SECRET_KEY is required for `venuekit {role}`")
    return hmac.new(settings.secret_key.encode(), b"venuekit node api", hashlib.sha256).hexdigest()


def _close_redis(client: aioredis.Redis) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        yield
        await client.aclose()
        await client.connection_pool.aclose()

    return ctx


async def _index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


def build_app(
    role: Role, settings: Settings, redis_url: str, private_redis: PrivateRedis | None = None
) -> web.Application:
    """The HTTP application of ``role``; Redis at ``redis_url`` is opened on start-up."""
    app = web.Application(client_max_size=1024 * 1024)
    app[SETTINGS_KEY] = settings
    # Created now (it connects lazily) so every component gets the same client; closed last.
    # A blocking pool: a burst waits for a free connection instead of failing (the venue log
    # and chat fan-out each hold a connection in a blocking read); an idle connection is
    # handed out without the wait's lock and timer (venuekit/redis_pool.py).
    pool = FastBlockingPool.from_url(
        redis_url, max_connections=512, timeout=5, socket_connect_timeout=2, health_check_interval=10
    )
    redis = aioredis.Redis(connection_pool=pool)
    app[REDIS_KEY] = redis
    app.cleanup_ctx.append(_close_redis(redis))

    async def redis_ready() -> None:
        if private_redis is not None and private_redis.exit_reason is not None:
            raise RuntimeError(private_redis.exit_reason)
        await app[REDIS_KEY].ping()

    observability.install(app, role.value, {"redis": redis_ready})
    if role in (Role.DEV, Role.SIGNAL):
        secure = settings.effective_public_url.startswith("https://")
        install_edge(
            app,
            redis,
            secret_key=settings.secret_key,
            cookie_secure=secure,
            media_hosts=settings.media_hosts if role is Role.DEV else None,
            chat_window_ms=settings.chat_window_ms,
            node_secret=settings.node_secret,
        )
        app.router.add_get("/", _index)
        app.router.add_static("/static/", Path(STATIC_DIR), show_index=False)
    else:
        install_sfu(app, redis, settings, settings.node_secret)
    return app
