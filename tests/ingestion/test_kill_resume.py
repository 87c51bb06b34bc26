"""A run killed with SIGKILL part-way, then a rerun: the warehouse holds exactly the emulators' data.

The run is a child process (`python -m ingestion <sources>`) against the sandbox served in this test's
thread; a latency fault slows every answer so the kill lands while pages are still being read and earlier
resources are already committed. Nothing is lost and nothing is duplicated after the rerun.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from cdp.paths import PROJECT_ROOT
from ingestion.pipeline import run_source
from sandbox.credentials import dlt_environment
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.ingestion.test_fault_matrix import assert_exact

pytestmark = pytest.mark.slow

# (sources in the killed run, vendor whose served requests trigger the kill, requests served before it)
KILLS = [
    (["hubspot"], "hubspot", 12),
    (["shopify", "mixpanel"], "mixpanel", 3),
]


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    from sandbox.world.generate import generate_world

    sandbox = tmp_path_factory.mktemp("kill_resume")
    generate_world(sandbox / "world", size="tiny", seed=11, progress=lambda _: None)
    return sandbox / "world"


def served(base: str, vendor: str) -> int:
    log = httpx.get(f"{base}/_sandbox/requests").json()["requests"]
    return sum(entry["count"] for entry in log if entry["vendor"] == vendor)


def kill_when_served(proc: subprocess.Popen, base: str, vendor: str, requests: int) -> None:
    """SIGKILL the child once the emulator has answered `requests` of the vendor's requests."""
    deadline = time.monotonic() + 120
    while served(base, vendor) < requests:
        assert proc.poll() is None, f"the run ended before it could be killed:\n{proc.stdout.read()}"
        assert time.monotonic() < deadline, "the run never reached the kill point"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.parametrize(("sources", "vendor", "requests"), KILLS, ids=["hubspot", "shopify+mixpanel"])
def test_a_run_killed_mid_load_then_rerun_loads_exactly_the_emulators_data(
    sources, vendor, requests, tiny_world, isolated_cdp_home, monkeypatch
):
    world = json.loads((tiny_world / "world.json").read_text())
    with sandbox_in_thread(tiny_world, Limits(enabled=False)) as base:
        env = {
            **dlt_environment(world, base),
            "CDP_HOME": str(isolated_cdp_home),
            "CDP_AS_OF": world["as_of"],
            "SOURCES__REQUESTS_PER_SECOND": "0",
        }
        # Every answer of the vendor waits a little, so the kill comes in the middle of the run.
        httpx.post(f"{base}/_sandbox/faults", json={"vendor": vendor, "kind": "slow", "seconds": 0.15, "times": 0})
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingestion", *sources],
            cwd=PROJECT_ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        kill_when_served(proc, base, vendor, requests)
        assert proc.returncode == -signal.SIGKILL

        httpx.delete(f"{base}/_sandbox/faults")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for source in sources:
            run_source(source)
        for source in sources:
            assert_exact(tiny_world, source)

