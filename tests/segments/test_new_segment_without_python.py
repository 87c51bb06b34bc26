"""Acceptance: an analyst adds a segment as one .sql file with a config.meta.cdp block, and nothing else.

The project is copied (code and dbt project, not the virtualenv), the file is added to the copy, and the copy
runs in a subprocess exactly as a user would: the new segment reaches segments.segment_memberships and its
sync is an asset of the Definitions. A malformed block stops the Definitions with the named message.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdp.paths import PROJECT_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

NEW_SEGMENT = """\
{{ config(meta={'cdp': {
    'description': 'Bought at least twice.',
    'owner': 'analyst@example.com',
    'cadence': 'daily',
    'syncs': [{'destination': 'klaviyo_list', 'key': 'customer_id', 'mode': 'mirror', 'target': 'Repeat buyers'}],
}}) }}
select customer_id, orders_count from {{ ref('customer_profiles') }} where orders_count >= 2
"""

MALFORMED_SEGMENT = """\
{{ config(meta={'cdp': {'description': 'Typo in a key.', 'owner': 'analyst@example.com', 'cadance': 'daily'}}) }}
select customer_id from {{ ref('customer_profiles') }}
"""

REPORT = """\
import json
from orchestration.run import materialize
result = materialize()
from orchestration.definitions import defs
keys = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())
print("RESULT " + json.dumps({"success": result.success, "keys": keys}))
"""

IMPORT_ONLY = """\
from orchestration.dbt import prepare_manifest
prepare_manifest()
import orchestration.definitions
"""


def _ignore(directory: str, names: list[str]) -> set[str]:
    skipped = {".venv", ".git", ".cdp", "target", "logs", "__pycache__", ".pytest_cache", ".ruff_cache"}
    return {name for name in names if name in skipped}


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    copy = tmp_path_factory.mktemp("project") / "cdp"
    shutil.copytree(PROJECT_ROOT, copy, ignore=_ignore)
    return copy


def run_in(project: Path, code: str) -> subprocess.CompletedProcess:
    # The copy's packages first, so its orchestration/ and dbt_project/ are the ones imported.
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run([sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True,
                          timeout=1200)


def test_a_new_segment_file_yields_its_memberships_and_its_sync_asset(project_copy, sandbox_url, e2e_home):
    (project_copy / "dbt_project/models/segments/repeat_buyers.sql").write_text(NEW_SEGMENT)
    done = run_in(project_copy, REPORT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the copied project did not run:\n{done.stderr[-3000:]}"
    report = json.loads(lines[-1].removeprefix("RESULT "))
    assert report["success"]
    assert "syncs/klaviyo_list__repeat_buyers" in report["keys"]
    assert "segment_members/repeat_buyers" in report["keys"]

    import duckdb

    con = duckdb.connect(str(e2e_home / "warehouse.duckdb"), read_only=True)
    try:
        expected = {r[0] for r in con.execute(
            "select customer_id from marts.customer_profiles where orders_count >= 2").fetchall()}
        members = {r[0] for r in con.execute(
            "select customer_id from segments.segment_memberships where segment_name = 'repeat_buyers'").fetchall()}
    finally:
        con.close()
    assert expected, "the tiny world has no repeat buyers to put in the segment"
    assert members == expected


def test_a_malformed_block_stops_the_definitions_with_the_model_the_key_and_the_fix(project_copy):
    (project_copy / "dbt_project/models/segments/typo_segment.sql").write_text(MALFORMED_SEGMENT)
    done = run_in(project_copy, IMPORT_ONLY)
    assert done.returncode != 0
    assert "model typo_segment: meta.cdp.cadance is not a known key; fix: remove it or use one of" in done.stderr
    assert "model typo_segment: meta.cdp.cadence is None; fix: use one of ['hourly', 'daily', 'weekly']" in done.stderr
