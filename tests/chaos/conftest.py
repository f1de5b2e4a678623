"""The chaos suite: `make test-chaos` (and `.ci/run`, after the main suite). Each test
injects a real fault into a whole running Opsflow (tests/chaos/system.py) and checks what
DESIGN §3 promises: every instance reaches a terminal status within a bound, every step's
side effect happened exactly once, and no process of a job outlives the decision about it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.system import System


@pytest.fixture(scope="session")
def system() -> Iterator[System]:
    base = Path(tempfile.mkdtemp(prefix="opsflow-chaos-"))
    base.chmod(0o755)
    system = System(base)
    try:
        system.start()
        yield system
    finally:
        system.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def chaos(system: System) -> Iterator[System]:
    """The running system, whole again before each test (a test may have killed a part)."""
    restarted = False
    if not system.postgres.answers():
        system.postgres.start()
    if not system.redis.process or system.redis.process.poll() is not None:
        system.redis.start()
    for role, child in system.children.items():
        if not child.alive():
            system.start_role(role)
            restarted = True
    if restarted:
        system.wait_ready()
    yield system
    for child in system.extra:
        child.stop()
    system.extra.clear()
