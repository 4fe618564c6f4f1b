"""A real `venuekit dev` per test module, for the browser tests to open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import Role


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Role]:
    role = Role("dev", Path(tmp_path_factory.mktemp("dev")))
    role.wait_ready()
    yield role
    role.stop()
