"""The issue's quality bar on the small world, on the development seed and on a fresh one (CI runs both).

Each seed gets its own world, sandbox and warehouse; the part of the asset graph identity depends on runs as
`make demo` runs it.
"""

from __future__ import annotations

import json

import pytest

from cdp import paths
from tests.helpers.selections import IDENTITY

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.mark.parametrize("seed", [7, 20261129])
def test_small_world_profiles_meet_the_quality_bar(seed, tmp_path, monkeypatch):
    from cdp.identity.score import score
    from cdp.warehouse import read_connection
    from orchestration.run import materialize
    from sandbox.credentials import dlt_environment
    from sandbox.emulators.common import Limits
    from sandbox.server import sandbox_in_thread
    from sandbox.world.generate import generate_world

    monkeypatch.setenv("CDP_HOME", str(tmp_path / "home"))  # a world and warehouse of its own per seed
    generate_world(paths.world_dir(), size="small", seed=seed, progress=lambda _: None)
    with sandbox_in_thread(paths.world_dir(), Limits(enabled=False)) as base_url:
        world = json.loads((paths.world_dir() / "world.json").read_text())
        for key, value in dlt_environment(world, base_url).items():
            monkeypatch.setenv(key, value)
        assert materialize(selection=IDENTITY).success, "the identity run failed"
    con = read_connection()
    try:
        result = score(con, paths.sandbox_dir())
    finally:
        con.close()
    print(f"small world, seed {seed}:", *result.lines(), sep="\n  ")
    assert result.precision >= 0.995, result.lines()
    assert result.recall >= 0.97, result.lines()
    assert result.profiles_joined_only_by_bad_identifiers == 0, result.lines()
