"""``python -m loadtest <benchmark> [options]``: run one benchmark; it ends with one JSON line."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = {
    "tickets": ("loadtest.tickets", "concurrent orders at a ticket quota; nothing may be oversold"),
    "chat": ("loadtest.chat", "N Socket.IO clients in one event chat; every message exactly once"),
    "joins": ("loadtest.joins", "participants from join token to first decoded frame, end to end"),
    "media": (
        "loadtest.media",
        "publishers and subscribers through the SFU vs an aiortc MediaRelay baseline",
    ),
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        lines = [f"  {name:<10} {summary}" for name, (_module, summary) in BENCHMARKS.items()]
        print("usage: python -m loadtest BENCHMARK [options]\n\nbenchmarks:\n" + "\n".join(lines))
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    module = importlib.import_module(BENCHMARKS[argv[0]][0])
    result: int = module.main(argv[1:])
    return result


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
