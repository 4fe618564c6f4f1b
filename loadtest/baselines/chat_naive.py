"""The chat baseline: what a Python developer would write without VenueKit.

python-socketio on aiohttp with its defaults; every message is emitted to the room the moment
it arrives (no batching, no pre-encoding), history is a list in memory, and a rejoining client
gets what came after its last id. It speaks the same events and acknowledgement shapes as
VenueKit's chat (``chat_join``, ``chat_send``, ``chat_replay``, ``chat_batch``), so the chat
benchmark drives both with the same clients in one run. It checks no token: it is a yardstick,
not a product.

    python -m loadtest.baselines.chat_naive --port 8600
"""

from __future__ import annotations

import argparse
import bisect
import time
from typing import Any

import socketio
from aiohttp import web

ROOM = "event"


def build_app() -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[])
    items: list[dict[str, Any]] = []
    keys: list[tuple[int, int]] = []
    by_client_id: dict[str, dict[str, Any]] = {}
    sequence = [0]

    def after(last_id: str | None) -> list[dict[str, Any]]:
        if last_id is None:
            return items[-50:]
        ms, _, seq = last_id.partition("-")
        return items[bisect.bisect_right(keys, (int(ms), int(seq or 0))) :]

    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        return None

    async def join(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        await sio.enter_room(sid, ROOM)
        last_id = data.get("last_id")
        mode = "history" if last_id is None else "replay"
        page = after(last_id)
        body = {
            "channel": ROOM,
            "mode": mode,
            "items": page,
            "more": False,
            "locked": False,
            "truncated": False,
        }
        return {"ok": True, "data": body}

    async def replay(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        page = after(data.get("after"))
        return {"ok": True, "data": {"channel": ROOM, "items": page, "more": False, "truncated": False}}

    async def send(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        client_id = data.get("client_id")
        if client_id is not None and client_id in by_client_id:
            return {"ok": True, "data": by_client_id[client_id]}
        now_ms = int(time.time() * 1000)
        sequence[0] += 1
        key = (now_ms, sequence[0])
        item = {
            "type": "message",
            "id": f"{key[0]}-{key[1]}",
            "ts_ms": now_ms,
            "sender": {"id": sid, "name": "someone", "role": "attendee"},
            "text": str(data.get("text", "")),
        }
        items.append(item)
        keys.append(key)
        if client_id is not None:
            by_client_id[client_id] = item
        await sio.emit("chat_batch", {"channel": ROOM, "items": [item]}, room=ROOM)
        return {"ok": True, "data": item}

    for event, handler in (
        ("connect", connect),
        ("chat_join", join),
        ("chat_replay", replay),
        ("chat_send", send),
    ):
        sio.on(event, handler)
    app = web.Application()
    sio.attach(app)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.baselines.chat_naive", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    web.run_app(build_app(), host="127.0.0.1", port=args.port, print=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
