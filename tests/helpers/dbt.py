"""Run dbt on a test's own warehouse, the way the source tests prove their staging models."""

from __future__ import annotations

from pathlib import Path

from cdp.paths import dbt_project_dir, warehouse_path


def build(selection: str, scratch: Path, monkeypatch):
    """`dbt build --select <selection>` against `cdp.paths.warehouse_path()`; returns dbt's result.

    Target and log folders go under `scratch`: other builds may be using the project's own target/.
    """
    from dbt.cli.main import dbtRunner

    monkeypatch.setenv("CDP_WAREHOUSE", str(warehouse_path()))
    # No usage tracking: it would also write dbt_project/.user.yml into the checkout.
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    project = str(dbt_project_dir())
    return dbtRunner().invoke(
        ["build", "--select", selection, "--project-dir", project, "--profiles-dir", project,
         "--target-path", str(scratch / "dbt_target"), "--log-path", str(scratch / "dbt_logs")]
    )  # fmt: skip
