"""Replicas must agree: the same inputs give the same effects in every process, whatever its hash seed.

Effects are compared in their JSON form, where sets are sorted (a set's repr depends on the seed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

REPLAY = """
import hashlib, json, random
from signalling.wire import to_json
from signalling.reactions import ReactionAggregator
from signalling.venue import Venue
from tests.signalling import test_venue_fuzz as fuzz

digest = hashlib.sha256()
for seed in range(40):
    venue = Venue(fuzz.EVENT, fuzz.standard_spaces(), grace_period_ms=5_000, reactions=ReactionAggregator())
    now_ms = 0
    for event, step_ms in fuzz.scenario(random.Random(seed), venue):
        now_ms += step_ms
        digest.update(json.dumps(to_json(venue.apply(event, now_ms))).encode())
print(digest.hexdigest())
"""


def replay_digest(hash_seed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    result = subprocess.run(
        [sys.executable, "-c", REPLAY],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.strip()


def test_effects_do_not_depend_on_the_hash_seed() -> None:
    digests = {replay_digest(seed) for seed in ("1", "2", "3")}
    assert len(digests) == 1
    assert len(digests.pop()) == 64
