"""The issue's quality bar on the small world, on the development seed and on a fresh one (CI runs both).

Each seed gets its own world, sandbox and warehouse; the part of the asset graph identity depends on runs as
`make demo` runs it.
"""

from __future__ import annotations

import pytest

from tests.helpers.identity import scored_world

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.mark.parametrize("seed", [7, 20261129])
def test_small_world_profiles_meet_the_quality_bar(seed, tmp_path, monkeypatch):
    # a world and warehouse of its own per seed
    result = scored_world(tmp_path / "home", monkeypatch, "small", seed)
    print(f"small world, seed {seed}:", *result.lines(), sep="\n  ")
    assert result.precision >= 0.995, result.lines()
    assert result.recall >= 0.97, result.lines()
    assert result.profiles_joined_only_by_bad_identifiers == 0, result.lines()
