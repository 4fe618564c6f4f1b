"""Chat fan-out benchmark: N Socket.IO clients in one event chat, every message exactly once.

It starts ``venuekit dev`` on a free loopback port (or targets ``--url`` with ``--server-pid``),
buys N free tickets through the API and exchanges them for attendee join tokens, connects N
lean WebSocket clients (asking for permessage-deflate, as browsers do), joins them all to the
event chat, and has each send ``--rate-per-min`` messages a minute for ``--duration-s``. A
share of the clients drops its connection without a goodbye mid-run and comes back a few
seconds later, rejoining with the last id it saw.

Every client accepts message ids only in increasing order (stream ids are ordered), so it ends
holding each message at most once; ``delivered`` counts what they hold, ``missing`` what they
should hold and do not, ``duplicates`` any id accepted twice (impossible unless ordering
broke), ``redundant_dropped`` ids received again and dropped by id, as the protocol intends
around a reconnect. Latency is from the sender's clock to the receiver's (same process), for
live deliveries. The summary is one JSON line.

    python -m loadtest chat --clients 5000 --rate-per-min 2 --duration-s 60
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from loadtest.provision import provision
from loadtest.sio import LeanClient, SocketIOError
from loadtest.stats import print_summary, process_cpu_s, process_rss_mb

CHANNEL = "event"
HISTOGRAM_MS = 120_000
LATENCY_SAMPLE_CLIENTS = 250
"""Clients that time every message they receive (and check every id); the rest check per batch."""


def raise_open_file_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _id_key(message_id: str) -> tuple[int, int]:
    ms, _, seq = message_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass
class Stats:
    histogram: list[int] = field(default_factory=lambda: [0] * HISTOGRAM_MS)
    live: int = 0
    duplicates: int = 0
    redundant: int = 0

    def observe_ms(self, latency_ms: float) -> None:
        self.histogram[min(HISTOGRAM_MS - 1, max(0, int(latency_ms)))] += 1
        self.live += 1

    def percentile_ms(self, pct: float) -> float:
        target = pct / 100 * self.live
        seen = 0
        for ms, count in enumerate(self.histogram):
            seen += count
            if count and seen >= target:
                return float(ms)
        return 0.0


class Client:
    """One simulated participant, holding each message id once.

    Until its first reconnect a client sees one ordered live stream, so holding "everything up
    to the last id" is exact and costs nothing per message. After a reconnect, replay pages and
    live batches overlap and interleave, so from then on it keeps the set of ids it holds above
    what it had before the drop, as a browser client keeps ids to drop duplicates.
    """

    def __init__(self, index: int, token: str, stats: Stats, *, samples_latency: bool = True) -> None:
        self.index = index
        self.samples_latency = samples_latency
        self.token = token
        self.stats = stats
        self.last: tuple[int, int] = (0, 0)
        self.last_live: tuple[int, int] = (0, 0)
        self.last_id: str | None = None
        self.accepted = 0
        self.base: tuple[int, int] | None = None
        """Set mode: everything up to ``base`` was held before the drop; ``held`` is above it."""
        self.held: set[str] = set()
        self.first_live: tuple[int, int] | None = None
        """The first id that arrived live since the last (re)join: a replay that reaches it is done."""
        self.sio: LeanClient | None = None
        self.online = False

    def take(self, items: list[dict[str, Any]], *, live: bool) -> None:
        if not items:
            return
        # Fast path (thousands of clients in one process): an in-order live batch that starts
        # after what we hold is taken whole; the per-item path below checks every id otherwise.
        if (
            live
            and self.base is None
            and not self.samples_latency
            and all(i.get("type") == "message" for i in items)
        ):
            first, last = _id_key(items[0]["id"]), _id_key(items[-1]["id"])
            in_order = len(items) == 1 or _id_key(items[-2]["id"]) < last
            if first > self.last and first > self.last_live and last >= first and in_order:
                self.last = self.last_live = last
                self.last_id = items[-1]["id"]
                self.accepted += len(items)
                return
        now_ns = time.monotonic_ns()
        for item in items:
            if item.get("type") != "message":
                continue
            key = _id_key(item["id"])
            if live:
                if key <= self.last_live:  # the live stream itself repeated or reordered a message
                    self.stats.duplicates += 1
                self.last_live = max(key, self.last_live)
                if self.first_live is None:
                    self.first_live = key
            if not self._hold(item["id"], key):
                self.stats.redundant += 1  # a replay and a live batch overlapped: dropped by id
                continue
            if live and self.samples_latency:
                parts = item["text"].split(":")
                if len(parts) == 3:
                    self.stats.observe_ms((now_ns - int(parts[2])) / 1e6)

    def _hold(self, message_id: str, key: tuple[int, int]) -> bool:
        if self.base is None:
            if key <= self.last:
                return False
        elif key <= self.base or message_id in self.held:
            return False
        else:
            self.held.add(message_id)
        self.accepted += 1
        if key > self.last:
            self.last, self.last_id = key, message_id
        return True

    def _caught_up(self, replayed_id: str) -> bool:
        return self.first_live is not None and _id_key(replayed_id) >= self.first_live

    def on_event(self, name: str, data: Any) -> None:
        if name == "chat_batch" and data.get("channel") == CHANNEL:
            self.take(data["items"], live=True)

    async def connect(self, session: aiohttp.ClientSession, url: str) -> None:
        rejoining = self.last_id is not None
        self.first_live = None
        if rejoining and self.base is None:
            self.base = self.last
        self.sio = LeanClient(session, self.on_event)
        await self.sio.connect(url, {"token": self.token}, timeout_s=60)
        payload: dict[str, Any] = {"channel": CHANNEL}
        if rejoining:
            payload["last_id"] = self.last_id
        reply = await self.sio.call("chat_join", payload, timeout_s=60)
        if not reply["ok"]:
            raise SocketIOError(f"chat_join refused: {reply['error']}")
        data = reply["data"]
        self.take(data["items"], live=False)
        if data["mode"] == "replay":
            # page on from the end of the last page, not from the newest id held: live batches
            # may already have brought newer messages than the replay has reached
            # ...and stop once the replay reaches what came live: everything newer comes live too
            page = data
            while page["more"] and page["items"]:
                after = page["items"][-1]["id"]
                if self._caught_up(after):
                    break
                reply = await self.sio.call("chat_replay", {"channel": CHANNEL, "after": after}, timeout_s=60)
                page = reply["data"]
                self.take(page["items"], live=False)
        self.online = True


FANOUT_METRIC = "venuekit_chat_fanout_latency_seconds_bucket"


async def scrape_buckets(session: aiohttp.ClientSession, url: str) -> dict[float, float]:
    """The server's own fan-out latency histogram (cumulative counts by upper bound, seconds)."""
    try:
        async with session.get(url.rstrip("/") + "/metrics") as resp:
            text = await resp.text()
    except aiohttp.ClientError:
        return {}
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(FANOUT_METRIC + "{"):
            labels, _, value = line.rpartition(" ")
            bound = labels.split('le="', 1)[1].split('"', 1)[0]
            buckets[float("inf") if bound == "+Inf" else float(bound)] = float(value)
    return buckets


def bucket_percentile_ms(before: dict[float, float], after: dict[float, float], pct: float) -> float | None:
    """Upper bound (ms) of the bucket holding the ``pct`` percentile of what happened in between."""
    deltas = sorted((bound, after[bound] - before.get(bound, 0.0)) for bound in after)
    if not deltas or deltas[-1][1] <= 0:
        return None
    target = pct / 100 * deltas[-1][1]
    for bound, cumulative in deltas:
        if cumulative >= target:
            return bound * 1000
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _server(argv: list[str], name: str) -> Any:
    """Start ``argv`` with ``{port}`` filled in on a free loopback port; yield (url, pid); stop it."""
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="vk-bench-")
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env |= {"VENUEKIT_DATA_DIR": data_dir, "VENUEKIT_LOG_LEVEL": "WARNING"}
    log = open(os.path.join(data_dir, "server.log"), "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([a.replace("{port}", str(port)) for a in argv], env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited; see {data_dir}/server.log")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start within 60 s") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def _platform(url: str | None, server_pid: int | None) -> Any:
    """Yield (url, pid): the given platform, or a ``venuekit dev`` started for this run."""
    if url is not None:
        yield url, server_pid
        return
    with _server([sys.executable, "-m", "venuekit", "dev", "--port", "{port}"], "venuekit dev") as running:
        yield running


def _baseline() -> Any:
    """The naive python-socketio chat (``loadtest/baselines/chat_naive.py``) on a free port."""
    return _server(
        [sys.executable, "-m", "loadtest.baselines.chat_naive", "--port", "{port}"], "the baseline"
    )


@dataclass
class Plan:
    clients: int
    rate_per_min: float
    duration_s: float
    reconnect_share: float
    connect_concurrency: int
    seed: int


class ChatRun:
    """One run: connect everyone, send for the duration with some clients bouncing, drain."""

    def __init__(self, url: str, server_pid: int | None, plan: Plan) -> None:
        self.url = url
        self.server_pid = server_pid
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.stats = Stats()
        self.population: list[Client] = []
        self.connect_ms: list[float] = []
        self.sent = 0
        self.send_failures = 0
        self.reconnects = 0

    async def _connect_all(self, session: aiohttp.ClientSession) -> None:
        gate = asyncio.Semaphore(self.plan.connect_concurrency)

        async def connect(client: Client) -> None:
            async with gate:
                t0 = time.monotonic()
                await client.connect(session, self.url)
                self.connect_ms.append((time.monotonic() - t0) * 1000)

        await asyncio.gather(*(connect(c) for c in self.population))

    async def _send(self, client: Client, seq: int) -> None:
        """Send once; if the connection drops meanwhile, send again with the same ``client_id``
        after the reconnect (the server stores it once), as a browser client would."""
        text = f"{client.index}:{seq}:{time.monotonic_ns()}"
        payload = {"channel": CHANNEL, "text": text, "client_id": f"{client.index}-{seq}"}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not client.online or client.sio is None:
                await asyncio.sleep(0.1)
                continue
            try:
                reply = await client.sio.call("chat_send", payload, timeout_s=30)
            except (SocketIOError, TimeoutError, ConnectionError):
                continue
            if not reply["ok"]:
                self.send_failures += 1
            return
        self.send_failures += 1

    async def _bounce(self, session: aiohttp.ClientSession, client: Client, at_s: float) -> None:
        """Vanish without a goodbye at ``at_s``, come back a little later with the last id seen."""
        await asyncio.sleep(at_s)
        assert client.sio is not None
        client.online = False
        await client.sio.drop()
        await asyncio.sleep(self.rng.uniform(1.0, 3.0))
        await client.connect(session, self.url)
        self.reconnects += 1

    async def _send_phase(self, session: aiohttp.ClientSession) -> None:
        plan = self.plan
        dropping = self.rng.sample(self.population, int(len(self.population) * plan.reconnect_share))
        bouncers = [
            asyncio.create_task(self._bounce(session, c, self.rng.uniform(0.1, 0.6) * plan.duration_s))
            for c in dropping
        ]
        pending: set[asyncio.Task[None]] = set()
        per_s = len(self.population) * plan.rate_per_min / 60
        started = tick = time.monotonic()
        budget = 0.0
        while (now := time.monotonic()) - started < plan.duration_s:
            budget += (now - tick) * per_s
            tick = now
            while budget >= 1:
                budget -= 1
                client = self.population[self.rng.randrange(len(self.population))]
                if client.online:
                    self.sent += 1
                    task = asyncio.create_task(self._send(client, self.sent))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
            await asyncio.sleep(0.01)
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.gather(*bouncers, return_exceptions=True)

    async def _drain(self, stored: int, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(c.accepted < stored for c in self.population):  # noqa: ASYNC110 - polls an aggregate of thousands of clients
            await asyncio.sleep(0.1)

    async def run_part(self, tokens: list[str], offset: int, sync: Sync) -> Part:
        """Connect ``tokens`` (global indexes from ``offset``), wait for the go, send, drain."""
        every = max(1, self.plan.clients // LATENCY_SAMPLE_CLIENTS)
        self.population = [
            Client(offset + i, token, self.stats, samples_latency=(offset + i) % every == 0)
            for i, token in enumerate(tokens)
        ]
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=60)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await self._connect_all(session)
            # thousands of long-lived client objects: keep full collections from walking them
            # (and stalling every client of this process) while messages are being timed
            gc.collect()
            gc.freeze()
            await sync.ready()
            await self._send_phase(session)
            total = await sync.total_stored(self.sent - self.send_failures)
            await self._drain(total)
            for client in self.population:
                if client.sio is not None:
                    with contextlib.suppress(Exception):
                        await client.sio.close()
        return Part(
            accepted=[c.accepted for c in self.population],
            histogram=self.stats.histogram,
            duplicates=self.stats.duplicates,
            redundant=self.stats.redundant,
            sent=self.sent,
            send_failures=self.send_failures,
            reconnects=self.reconnects,
            connect_ms=self.connect_ms,
            cpu_s=time.process_time(),
        )


@dataclass
class Part:
    """What one load-generator process reports."""

    accepted: list[int]
    histogram: list[int]
    duplicates: int
    redundant: int
    sent: int
    send_failures: int
    reconnects: int
    connect_ms: list[float]
    cpu_s: float


class Sync:
    """How the parts of a run agree: start sending together, then learn the total sent."""

    async def ready(self) -> None:
        return None

    async def total_stored(self, mine: int) -> int:
        return mine


class PipeSync(Sync):
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def ready(self) -> None:
        self._conn.send(("ready", None))
        await asyncio.to_thread(self._conn.recv)  # "go"

    async def total_stored(self, mine: int) -> int:
        self._conn.send(("stored", mine))
        total: int = await asyncio.to_thread(self._conn.recv)
        return total


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (a VenueKit dependency on Linux): a load generator spends its
    time in the event loop, and the platform it measures runs on uvloop too."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover
        return asyncio.new_event_loop()


def _worker(conn: Any, url: str, tokens: list[str], offset: int, plan: Plan) -> None:
    """A load-generator process: one share of the clients and of the sending."""
    raise_open_file_limit()
    share = Plan(**{**plan.__dict__, "seed": plan.seed + offset})
    gc.set_threshold(50_000, 10, 10)  # as the server does (venuekit/gc_policy.py)
    with asyncio.Runner(loop_factory=new_loop) as runner:
        part = runner.run(ChatRun(url, None, share).run_part(tokens, offset, PipeSync(conn)))
    conn.send(("done", part))
    conn.close()


async def run(
    url: str, pid: int | None, plan: Plan, workers: int, *, baseline: bool = False
) -> dict[str, Any]:
    """Provision, run the parts (in this process, or in ``workers`` processes), merge.

    The baseline checks no token and has no API: its clients get placeholder tokens.
    """
    started = time.monotonic()
    if baseline:
        tokens = [f"baseline-{i}" for i in range(plan.clients)]
    else:
        tokens = (await provision(url, ["Host"], [], attendees=plan.clients, concurrency=64)).attendees
    provision_s = time.monotonic() - started
    async with aiohttp.ClientSession() as session:
        t_connect = time.monotonic()
        if workers <= 1:
            parts, marks = await _run_here(url, pid, plan, tokens, session)
        else:
            parts, marks = await _run_in_processes(url, pid, plan, tokens, session, workers=workers)
        cpu_before, buckets_before, t_send, cpu_after, buckets_after, t_end = marks
    stats = Stats()
    for part in parts:
        stats.histogram = [a + b for a, b in zip(stats.histogram, part.histogram, strict=True)]
        stats.duplicates += part.duplicates
        stats.redundant += part.redundant
    stats.live = sum(stats.histogram)
    sent = sum(p.sent for p in parts)
    stored = sent - sum(p.send_failures for p in parts)
    accepted = [a for p in parts for a in p.accepted]
    delivered = sum(min(a, stored) for a in accepted)
    expected = stored * plan.clients
    connect_ms = sorted(ms for p in parts for ms in p.connect_ms)
    cpu_s = None if pid is None else cpu_after - cpu_before
    return {
        "scenario": "chat",
        "clients": plan.clients,
        "rate_per_min": plan.rate_per_min,
        "duration_s": plan.duration_s,
        "loadgen_processes": max(1, workers),
        "sent": sent,
        "send_failures": sent - stored,
        "expected_deliveries": expected,
        "delivered": delivered,
        "missing": expected - delivered,
        "duplicates": stats.duplicates,
        "redundant_dropped": stats.redundant,
        "reconnects": sum(p.reconnects for p in parts),
        "latency_p50_ms": stats.percentile_ms(50),
        "latency_p99_ms": stats.percentile_ms(99),
        "latency_max_ms": stats.percentile_ms(100),
        "server_fanout_p50_ms_le": bucket_percentile_ms(buckets_before, buckets_after, 50),
        "server_fanout_p99_ms_le": bucket_percentile_ms(buckets_before, buckets_after, 99),
        "server_cpu_s": None if cpu_s is None else round(cpu_s, 2),
        "server_cpu_share": None if cpu_s is None else round(cpu_s / (t_end - t_send), 3),
        "server_rss_mb": None if pid is None else round(process_rss_mb(pid), 1),
        "loadgen_cpu_s": round(sum(p.cpu_s for p in parts), 2),
        "connect_s": round(t_send - t_connect, 2),
        "connect_p99_ms": round(connect_ms[int(0.99 * (len(connect_ms) - 1))], 1) if connect_ms else 0.0,
        "provision_s": round(provision_s, 2),
    }


Marks = tuple[float, dict[float, float], float, float, dict[float, float], float]


async def _run_here(
    url: str, pid: int | None, plan: Plan, tokens: list[str], session: aiohttp.ClientSession
) -> tuple[list[Part], Marks]:
    marks: dict[str, Any] = {}

    class Local(Sync):
        async def ready(self) -> None:
            marks["cpu0"] = process_cpu_s(pid) if pid else 0.0
            marks["b0"] = await scrape_buckets(session, url)
            marks["t0"] = time.monotonic()

    part = await ChatRun(url, pid, plan).run_part(tokens, 0, Local())
    cpu1 = process_cpu_s(pid) if pid else 0.0
    b1 = await scrape_buckets(session, url)
    return [part], (marks["cpu0"], marks["b0"], marks["t0"], cpu1, b1, time.monotonic())


async def _run_in_processes(
    url: str, pid: int | None, plan: Plan, tokens: list[str], session: aiohttp.ClientSession, *, workers: int
) -> tuple[list[Part], Marks]:
    context = multiprocessing.get_context("spawn")
    size = -(-len(tokens) // workers)
    pipes = []
    procs = []
    for w in range(workers):
        parent, child = context.Pipe()
        chunk = tokens[w * size : (w + 1) * size]
        share = Plan(**{**plan.__dict__, "clients": plan.clients})
        proc = context.Process(target=_worker, args=(child, url, chunk, w * size, share), daemon=True)
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    for conn in pipes:
        kind, _ = await asyncio.to_thread(conn.recv)
        assert kind == "ready"
    cpu0 = process_cpu_s(pid) if pid else 0.0
    b0 = await scrape_buckets(session, url)
    t0 = time.monotonic()
    for conn in pipes:
        conn.send("go")
    stored = 0
    for conn in pipes:
        kind, mine = await asyncio.to_thread(conn.recv)
        assert kind == "stored"
        stored += mine
    for conn in pipes:
        conn.send(stored)
    parts: list[Part] = []
    for conn in pipes:
        kind, part = await asyncio.to_thread(conn.recv)
        assert kind == "done"
        parts.append(part)
    cpu1 = process_cpu_s(pid) if pid else 0.0
    b1 = await scrape_buckets(session, url)
    t1 = time.monotonic()
    for proc in procs:
        await asyncio.to_thread(proc.join, 30)
    return parts, (cpu0, b0, t0, cpu1, b1, t1)


def _cpu_ms_per_1k(run: dict[str, Any]) -> float | None:
    if run["server_cpu_s"] is None or not run["delivered"]:
        return None
    return float(run["server_cpu_s"]) * 1000 / (float(run["delivered"]) / 1000)


def _ratios(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """How many times better than the baseline (above 1: VenueKit is better)."""
    mine, theirs = _cpu_ms_per_1k(ours), _cpu_ms_per_1k(base)
    return {
        "server_cpu_ms_per_1k_deliveries": None if mine is None else round(mine, 3),
        "baseline_cpu_ms_per_1k_deliveries": None if theirs is None else round(theirs, 3),
        "cpu_ratio_vs_baseline": round(theirs / mine, 2) if mine and theirs else None,
        "p99_ratio_vs_baseline": round(base["latency_p99_ms"] / ours["latency_p99_ms"], 2)
        if ours["latency_p99_ms"]
        else None,
        "baseline_delivered_share": round(base["delivered"] / base["expected_deliveries"], 4)
        if base["expected_deliveries"]
        else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest chat", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running platform (default: start venuekit dev on loopback)")
    parser.add_argument("--server-pid", type=int, help="pid of the --url server, for CPU and memory")
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--rate-per-min", type=float, default=2.0, help="messages per client per minute")
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--reconnect-share", type=float, default=0.05)
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--workers", type=int, default=1, help="load-generator processes sharing the clients (default 1)"
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the naive python-socketio baseline run"
    )
    parser.add_argument("--quick", action="store_true", help="500 clients for 20 s")
    parser.add_argument("--smoke", action="store_true", help="a few clients for a few seconds (tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.duration_s = 500, 20.0
    if args.smoke:
        args.clients, args.duration_s, args.rate_per_min, args.reconnect_share = 6, 6.0, 20.0, 0.34
    raise_open_file_limit()
    plan = Plan(
        clients=args.clients,
        rate_per_min=args.rate_per_min,
        duration_s=args.duration_s,
        reconnect_share=args.reconnect_share,
        connect_concurrency=args.connect_concurrency,
        seed=args.seed,
    )
    with _platform(args.url, args.server_pid) as (url, pid):
        summary = asyncio.run(run(url, pid, plan, args.workers))
    if not args.no_baseline:
        with _baseline() as (url, pid):
            base = asyncio.run(run(url, pid, plan, args.workers, baseline=True))
        summary["baseline"] = base
        summary |= _ratios(summary, base)
    print_summary(summary)
    return 0 if summary["missing"] == 0 and summary["duplicates"] == 0 else 1
