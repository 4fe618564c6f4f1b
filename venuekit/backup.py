"""``venuekit backup FILE`` and ``venuekit restore FILE``: a portable copy of everything in Redis.

Redis is VenueKit's system of record (organisations, events, tickets, orders, chat, venue logs,
analytics). A backup is every key's ``DUMP`` with its remaining time to live, one JSON line per
key after a header line; a restore writes them back with ``RESTORE ... REPLACE``. It works
against any Redis the URL reaches, also one whose files you cannot copy (a managed service).

It is not a point-in-time snapshot: keys written while the backup runs may or may not be in it.
Take it while the platform is quiet, or rely on Redis's own AOF/RDB files for an exact moment
(docs/control-api-design.md has the durability settings).
"""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path
from typing import Any, Final

import orjson
import redis.asyncio as aioredis

FORMAT: Final = "venuekit-backup"
VERSION: Final = 1


class BackupError(RuntimeError):
    """The file is not a VenueKit backup, or Redis refused a step; one line for the operator."""


async def backup(redis: aioredis.Redis, path: Path) -> int:
    """Write every key of ``redis`` to ``path``; returns how many keys were written."""
    written = 0
    partial = path.with_suffix(path.suffix + ".partial")
    with partial.open("wb") as out:
        out.write(orjson.dumps({"format": FORMAT, "version": VERSION, "created_ms": int(time.time() * 1000)}))
        out.write(b"\n")
        async for key in redis.scan_iter(count=1000):
            pipe = redis.pipeline(transaction=False)
            pipe.dump(key)
            pipe.pttl(key)
            dumped, ttl_ms = await pipe.execute()
            if dumped is None:  # expired or deleted since the scan saw it
                continue
            record = {
                "k": base64.b64encode(key).decode(),
                "ttl": max(0, int(ttl_ms)),
                "v": base64.b64encode(dumped).decode(),
            }
            out.write(orjson.dumps(record))
            out.write(b"\n")
            written += 1
    partial.replace(path)
    return written


async def restore(redis: aioredis.Redis, path: Path) -> int:
    """Write every key of the backup at ``path`` back into ``redis`` (replacing what is there)."""
    try:
        lines = (await asyncio.to_thread(path.read_bytes)).splitlines()
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}") from None
    try:
        header: dict[str, Any] = orjson.loads(lines[0]) if lines else {}
    except orjson.JSONDecodeError:
        header = {}
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise BackupError(f"{path} is not a {FORMAT} version {VERSION} file")
    restored = 0
    pipe = redis.pipeline(transaction=False)
    for number, line in enumerate(lines[1:], start=2):
        try:
            record = orjson.loads(line)
            key, value = base64.b64decode(record["k"]), base64.b64decode(record["v"])
            ttl_ms = int(record["ttl"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise BackupError(f"{path}: line {number} is damaged") from None
        pipe.restore(key, ttl_ms, value, replace=True)
        restored += 1
        if restored % 500 == 0:
            await pipe.execute()
    await pipe.execute()
    return restored
