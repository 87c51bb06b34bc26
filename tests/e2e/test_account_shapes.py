"""The whole graph on accounts that are not our well-filled sandbox: a young business and a sparse account
(sandbox/world/shapes.py). Each gets a fresh home, a full refresh with every sync, and must come through with
profiles, segments and syncs built; what could not be predicted says why."""

from __future__ import annotations

import duckdb
import pytest

from cdp import paths
from cdp.warehouse import read_copy_path
from tests.e2e.conftest import serving

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(params=["new_business", "sparse", "customised"])
def shaped_home(request, tmp_path, monkeypatch):
    from sandbox.world.generate import generate_world

    monkeypatch.setenv("CDP_HOME", str(tmp_path / "home"))
    generate_world(paths.world_dir(), size="tiny", seed=7, progress=lambda _: None, shape=request.param)
    return request.param


def test_each_account_shape_builds_the_whole_graph_and_runs_every_sync(shaped_home):
    from orchestration.dbt import prepare_manifest
    from orchestration.run import materialize
    from orchestration.segments import sync_specs

    with serving(paths.world_dir()):
        result = materialize()
    failed = [event.step_key for event in result.all_events if event.is_step_failure]
    assert result.success, f"{shaped_home}: failed steps {failed}"
    declared = {spec.name for spec in sync_specs(prepare_manifest())}
    with duckdb.connect(str(read_copy_path()), read_only=True) as con:
        runs = dict(con.execute("select sync_name, arg_max(status, planned_at) from syncs.sync_runs group by 1")
                    .fetchall())
        profiles = con.execute("select count(*) from marts.customer_profiles").fetchone()[0]
        cards = con.execute("select model, status, reason from predictions.model_cards").fetchall()
    assert declared and runs == {name: "succeeded" for name in declared}
    assert profiles > 0
    # A model either trained or says why it did not.
    assert all(status == "trained" or reason for _, status, reason in cards), cards
