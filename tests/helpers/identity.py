"""Identity quality of a generated world: generate it, run the part of the graph identity depends on (as
`make demo` runs it) against its emulators, and score the profiles against the world's truth."""

from __future__ import annotations

import json

from cdp import paths
from tests.helpers.selections import IDENTITY


def scored_world(home, monkeypatch, size: str, seed: int, conventions: str = "dev"):
    """The `cdp.identity.score` result of a fresh world in its own CDP_HOME (`home`)."""
    from cdp.identity.score import score
    from cdp.warehouse import read_connection
    from orchestration.run import materialize
    from sandbox.credentials import dlt_environment
    from sandbox.emulators.common import Limits
    from sandbox.server import sandbox_in_thread
    from sandbox.world.generate import generate_world

    monkeypatch.setenv("CDP_HOME", str(home))
    generate_world(paths.world_dir(), size=size, seed=seed, progress=lambda _: None, conventions=conventions)
    with sandbox_in_thread(paths.world_dir(), Limits(enabled=False)) as base_url:
        world = json.loads((paths.world_dir() / "world.json").read_text())
        for key, value in dlt_environment(world, base_url).items():
            monkeypatch.setenv(key, value)
        assert materialize(selection=IDENTITY).success, "the identity run failed"
    con = read_connection()
    try:
        return score(con, paths.sandbox_dir())
    finally:
        con.close()
