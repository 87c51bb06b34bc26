"""Run dbt on a test's own warehouse, the way the source tests prove their staging models."""

from __future__ import annotations

import json
from pathlib import Path

from cdp.paths import dbt_project_dir, warehouse_path


def build(selection: str, scratch: Path, monkeypatch, dbt_vars: dict | None = None, command: str = "build"):
    """`dbt build --select <selection>` (or another `command`) against `cdp.paths.warehouse_path()`, with
    `dbt_vars` if given; returns dbt's result.

    Target and log folders go under `scratch`: other builds may be using the project's own target/.
    """
    from dbt.cli.main import dbtRunner

    monkeypatch.setenv("CDP_WAREHOUSE", str(warehouse_path()))
    # No usage tracking: it would also write dbt_project/.user.yml into the checkout.
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    project = str(dbt_project_dir())
    extra = ["--vars", json.dumps(dbt_vars)] if dbt_vars else []
    return dbtRunner().invoke(
        [command, "--select", selection, "--project-dir", project, "--profiles-dir", project,
         "--target-path", str(scratch / "dbt_target"), "--log-path", str(scratch / "dbt_logs"), *extra]
    )  # fmt: skip
