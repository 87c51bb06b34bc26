"""The tiny world for end-to-end tests: generated and served per module (`sandbox_url`), or, for modules
that only read what a full refresh built, copied from one refresh made once per test run (`refreshed_home`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import pytest

from cdp import paths
from cdp.locks import exclusive


@pytest.fixture(scope="module")
def e2e_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("e2e_home")
    mp = pytest.MonkeyPatch()
    mp.setenv("CDP_HOME", str(home))
    yield home
    mp.undo()


@pytest.fixture(autouse=True)
def isolated_cdp_home(e2e_home, monkeypatch):
    """Overrides the suite's per-test CDP_HOME: the tests of a module share one world and warehouse."""
    monkeypatch.setenv("CDP_HOME", str(e2e_home))
    return e2e_home


@pytest.fixture(scope="module")
def tiny_world(e2e_home):
    from sandbox.world.generate import generate_world

    return generate_world(paths.world_dir(), size="tiny", seed=7, progress=lambda _: None)


@pytest.fixture(scope="module")
def sandbox_url(tiny_world):
    """The emulators in a thread, with the sources pointed at them through dlt's environment variables."""
    with serving(paths.world_dir()) as base_url:
        yield base_url


@contextlib.contextmanager
def serving(world_dir: Path):
    from sandbox.credentials import dlt_environment
    from sandbox.emulators.common import Limits
    from sandbox.server import sandbox_in_thread

    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base_url:
        mp = pytest.MonkeyPatch()
        world = json.loads((world_dir / "world.json").read_text())
        for key, value in dlt_environment(world, base_url).items():
            mp.setenv(key, value)
        yield base_url
        mp.undo()


@pytest.fixture(scope="session")
def refreshed_tiny_home(tmp_path_factory) -> Path:
    """A CDP_HOME holding the tiny world after one full refresh, built once per test run.

    Parallel workers (pytest-xdist) share it: each has a base temp folder of its own inside the run's, and the
    first to take the lock builds it. Modules copy it (`refreshed_home`) and never write here.
    """
    from orchestration.run import materialize
    from sandbox.world.generate import generate_world

    base = tmp_path_factory.getbasetemp()
    run_dir = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    home = run_dir / "refreshed_tiny_home"
    with exclusive(run_dir / "refreshed_tiny_home.lock"):
        if not (home / "refreshed").exists():
            shutil.rmtree(home, ignore_errors=True)  # a build that failed half-way
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("CDP_HOME", str(home))
                generate_world(paths.world_dir(), size="tiny", seed=7, progress=lambda _: None)
                with serving(paths.world_dir()):
                    assert materialize().success, "the refresh run failed"
            (home / "refreshed").touch()
    return home


@pytest.fixture(scope="module")
def refreshed_home(e2e_home, refreshed_tiny_home) -> Path:
    """This module's own copy of the refreshed tiny world (warehouse, read copy, world, clock, states)."""
    shutil.copytree(refreshed_tiny_home, e2e_home, dirs_exist_ok=True)
    return e2e_home


def reset_request_log(base_url: str) -> None:
    import httpx

    httpx.delete(f"{base_url}/_sandbox/requests", timeout=10)


def request_counts(base_url: str) -> dict[str, int]:
    import httpx

    counts: dict[str, int] = {}
    for row in httpx.get(f"{base_url}/_sandbox/requests", timeout=10).json()["requests"]:
        counts[row["vendor"]] = counts.get(row["vendor"], 0) + row["count"]
    return counts



def api_created(base_url: str) -> dict[tuple[str, str], set[str]]:
    """Ids of the objects the syncs created through the vendors' write APIs, which the sources read back."""
    import httpx

    klaviyo = httpx.get(f"{base_url}/_sandbox/destinations/klaviyo", timeout=30).json()
    hubspot = httpx.get(f"{base_url}/_sandbox/destinations/hubspot", timeout=30).json()
    return {("klaviyo", "lists"): {entry["id"] for entry in klaviyo["lists"]},
            ("hubspot", "tasks"): {task["id"] for task in hubspot["tasks"]}}
