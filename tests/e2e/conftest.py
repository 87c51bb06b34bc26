"""One tiny world, loaded once through the whole asset graph, shared by the end-to-end tests of a module."""

from __future__ import annotations

import json

import pytest

from cdp import paths


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
    from sandbox.credentials import dlt_environment
    from sandbox.emulators.common import Limits
    from sandbox.server import sandbox_in_thread

    with sandbox_in_thread(paths.world_dir(), Limits(enabled=False)) as base_url:
        mp = pytest.MonkeyPatch()
        world = json.loads((paths.world_dir() / "world.json").read_text())
        for key, value in dlt_environment(world, base_url).items():
            mp.setenv(key, value)
        yield base_url
        mp.undo()


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
