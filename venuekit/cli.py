"""The ``venuekit`` command: pick a role, validate settings, serve until SIGINT/SIGTERM.

Start-up failures (a bad setting, a taken port, an unreachable Redis) print one line
``venuekit: error: ...`` on stderr and exit with status 2; they never print a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import logging
import os
import resource
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from aiohttp import web

from venuekit import __version__, backup, gc_policy
from venuekit.app import Role, build_app, resolve_node_secret, resolve_secret_key
from venuekit.demo import seed_demo
from venuekit.redis_child import PrivateRedis, RedisStartError
from venuekit.settings import Settings, SettingsError, load_settings
from venuekit.sfu_role import SFU_ROLE_KEY
from venuekit.workers import run_workers

log = logging.getLogger("venuekit")

EXIT_STARTUP_ERROR = 2


class StartupError(RuntimeError):
    """The role cannot start; the message is one line for the operator."""


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="venuekit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"venuekit {__version__}")
    sub = parser.add_subparsers(dest="role", required=True, metavar="ROLE")
    helps = {
        Role.DEV: "everything on one machine; starts a private redis-server unless REDIS_URL is set",
        Role.SIGNAL: "Socket.IO signalling, chat, control API and web client (needs REDIS_URL)",
        Role.SFU: "one media node (needs REDIS_URL)",
    }
    for role, text in helps.items():
        p = sub.add_parser(role.value, help=text, description=text)
        p.add_argument("--host", help="listen address (overrides VENUEKIT_HOST)")
        p.add_argument("--port", type=int, help="listen port (overrides VENUEKIT_PORT or _SFU_PORT)")
        if role is Role.SFU:
            p.add_argument(
                "--workers",
                type=int,
                default=os.cpu_count() or 1,
                help="media node processes to run, each its own node on its own port "
                "(--port, --port+1, ...; default: one per core)",
            )
        if role is Role.DEV:
            p.add_argument(
                "--demo", action="store_true", help="seed a demo hackathon and print links to try it"
            )
    for tool, text in (
        ("backup", "copy every key of the Redis at REDIS_URL into FILE"),
        ("restore", "write every key of FILE back into the Redis at REDIS_URL (replacing keys)"),
    ):
        p = sub.add_parser(tool, help=text, description=text + "; see venuekit/backup.py")
        p.add_argument("file", type=Path)
    return parser


async def _run_tool(tool: str, redis_url: str, path: Path) -> str:
    await _check_redis(redis_url)
    client = aioredis.Redis.from_url(redis_url)
    try:
        if tool == "backup":
            return f"backed up {await backup.backup(client, path)} keys to {path}"
        return f"restored {await backup.restore(client, path)} keys from {path}"
    finally:
        await client.aclose()


def _tool(tool: str, path: Path) -> int:
    try:
        settings = load_settings()
        if not settings.redis_url:
            raise SettingsError(
                f"REDIS_URL is required for `venuekit {tool}` (the Redis of a running platform)"
            )
        print(asyncio.run(_run_tool(tool, settings.redis_url, path)), flush=True)
    except (SettingsError, StartupError, backup.BackupError, OSError) as exc:
        print(f"venuekit: error: {exc}", file=sys.stderr, flush=True)
        return EXIT_STARTUP_ERROR
    return 0


async def _check_redis(url: str) -> None:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as exc:
        raise StartupError(f"cannot reach Redis at {redact(url)}: {exc}") from None
    finally:
        await client.aclose()


async def _seed_demo(host: str, port: int, public_url: str) -> None:
    api_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    try:
        links = await seed_demo(f"http://{api_host}:{port}", public_url=public_url)
    except Exception as exc:  # the demo is a convenience: the platform keeps running
        log.error("could not seed the demo: %s", exc)
    else:
        print("\n".join(links.lines()), flush=True)


async def serve(role: Role, settings: Settings, *, demo: bool = False) -> None:
    """Run ``role`` until a stop signal; always stop what was started."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    private: PrivateRedis | None = None
    runner: web.AppRunner | None = None
    try:
        if settings.redis_url:
            redis_url = settings.redis_url
        elif role is Role.DEV:
            private = PrivateRedis(settings.redis_server, settings.data_dir)
            redis_url = await private.start()
        else:
            raise StartupError(f"REDIS_URL is required for `venuekit {role}`")
        await _check_redis(redis_url)
        port = settings.sfu_port if role is Role.SFU else settings.port
        app = build_app(role, settings, redis_url, private)
        runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=settings.shutdown_timeout_s
        )
        await runner.setup()
        site = web.TCPSite(runner, settings.host, port)
        try:
            await site.start()
        except OSError as exc:
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise StartupError(f"cannot listen on {settings.host}:{port}: {reason}") from None
        bound_port = runner.addresses[0][1] if runner.addresses else port
        if role is Role.SFU:
            await app[SFU_ROLE_KEY].announce(bound_port)
        shown = dataclasses.replace(settings, port=bound_port)
        log.info("venuekit %s role %s listening on %s:%s", __version__, role, settings.host, bound_port)
        url = shown.effective_public_url if role is not Role.SFU else f"http://{settings.host}:{bound_port}"
        print(f"VenueKit {role} is running. Open {url}/", flush=True)
        if demo:
            await _seed_demo(settings.host, bound_port, url)
        gc_policy.apply()
        freezer = asyncio.create_task(gc_policy.freeze_periodically(), name="gc-freeze")
        await stop.wait()
        freezer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await freezer
        log.info("stopping")
    finally:
        await _shut_down(runner, private, settings.shutdown_timeout_s)


async def _shut_down(runner: web.AppRunner | None, private: PrivateRedis | None, timeout_s: float) -> None:
    """Stop the application, then whatever it left running, then the private Redis; bounded."""
    loop = asyncio.get_running_loop()
    if runner is not None:
        try:
            await asyncio.wait_for(runner.cleanup(), timeout_s + 5)
        except TimeoutError:
            log.error("the application did not stop within %.0f s", timeout_s + 5)
    stubborn = await _end_leftover_tasks(timeout_s=5.0)
    if private is not None:
        await private.stop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
    if stubborn:
        # asyncio.run would wait for them for ever; a stop signal must stop the process
        log.error("tasks ignored cancellation at shutdown, exiting anyway: %s", ", ".join(stubborn))
        logging.shutdown()
        sys.stdout.flush()
        os._exit(0)


async def _end_leftover_tasks(timeout_s: float) -> list[str]:
    """Cancel every task still running after the application stopped; the names of those that
    are still running after ``timeout_s`` (a blocking Redis read can swallow one cancellation,
    so they are cancelled twice)."""
    current = asyncio.current_task()
    pending = {t for t in asyncio.all_tasks() if t is not current and not t.done()}
    for attempt_s in (timeout_s, 1.0):
        if not pending:
            return []
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=attempt_s)
    return sorted(task.get_name() for task in pending)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.new_event_loop()


def _raise_open_file_limit() -> None:
    """Every socket is a file: let the process use as many as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.role in ("backup", "restore"):
        return _tool(args.role, args.file)
    _raise_open_file_limit()
    role = Role(args.role)
    try:
        settings = load_settings()
        overrides: dict[str, object] = {}
        if args.host is not None:
            overrides["host"] = args.host
        if args.port is not None:
            if not 0 <= args.port <= 65535:
                raise SettingsError(f"--port {args.port} is not a port number (0-65535)")
            overrides["sfu_port" if role is Role.SFU else "port"] = args.port
        settings = dataclasses.replace(settings, **overrides)  # type: ignore[arg-type]
        logging.basicConfig(
            level=settings.log_level,
            stream=sys.stderr,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        settings = dataclasses.replace(settings, secret_key=resolve_secret_key(settings, role))
        settings = dataclasses.replace(settings, node_secret=resolve_node_secret(settings, role))
        workers = getattr(args, "workers", 1)
        if workers < 1:
            raise SettingsError(f"--workers {workers} must be at least 1")
        if role is Role.SFU and workers > 1:
            if not settings.redis_url:  # checked once here rather than once per worker
                raise StartupError(f"REDIS_URL is required for `venuekit {role}`")
            asyncio.run(_check_redis(settings.redis_url))
            return run_workers(workers, settings)
        with asyncio.Runner(loop_factory=_new_loop) as runner:
            runner.run(serve(role, settings, demo=getattr(args, "demo", False)))
    except (SettingsError, StartupError, RedisStartError) as exc:
        print(f"venuekit: error: {exc}", file=sys.stderr, flush=True)
        return EXIT_STARTUP_ERROR
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        with contextlib.suppress(Exception):
            print("venuekit: interrupted", file=sys.stderr)
        return 130
    return 0
