"""The dbt project as Dagster sees it, and the one way to prepare its manifest.

dagster-dbt reads target/manifest.json when the Definitions are imported; `prepare_if_dev()` only parses under
`dagster dev`, so the `cdp` commands and the tests call `prepare_manifest()` first (engineering.md, trap 6).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from cdp.locks import exclusive
from cdp.paths import dbt_project_dir, warehouse_path


def dbt_environment() -> None:
    """dbt's profile reads the warehouse path from CDP_WAREHOUSE; cdp.paths is the one place that knows it."""
    os.environ["CDP_WAREHOUSE"] = str(warehouse_path())


def dbt_executable() -> str:
    """dbt from this environment, whether or not the virtualenv is on PATH (`.venv/bin/pytest` alone isn't)."""
    return str(Path(sys.executable).with_name("dbt"))


def cdp_dbt_project() -> DbtProject:
    return DbtProject(project_dir=dbt_project_dir(), profiles_dir=dbt_project_dir())


def prepare_manifest() -> Path:
    """Parse the project when the manifest is missing or any model, macro, seed or test file changed.

    The fingerprint covers every file's path, size and mtime, so added, moved and deleted files count too.
    """
    project = cdp_dbt_project()
    manifest = Path(project.manifest_path)
    stamp = manifest.with_name("cdp_manifest_fingerprint")
    # One parse at a time: two processes starting together (the UI and a `cdp` command, or parallel test
    # workers) would otherwise write target/ at once and one could read a half-written manifest.
    with exclusive(manifest.with_name("cdp_manifest.lock")):
        fingerprint = _project_fingerprint()
        if manifest.exists() and stamp.exists() and stamp.read_text() == fingerprint:
            return manifest
        from dbt.cli.main import dbtRunner

        dbt_environment()
        result = dbtRunner().invoke(
            ["parse", "--quiet", "--project-dir", str(dbt_project_dir()), "--profiles-dir", str(dbt_project_dir())]
        )
        if not result.success:
            raise RuntimeError(f"dbt parse failed: {result.exception or 'see the dbt log above'}")
        stamp.write_text(fingerprint)
        return manifest


def _project_fingerprint() -> str:
    root = dbt_project_dir()
    files = [root / "dbt_project.yml"]
    files += sorted(p for d in ("models", "macros", "tests", "seeds") for p in (root / d).rglob("*") if p.is_file())
    entries = [f"{p.relative_to(root)}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


if __name__ == "__main__":
    print(prepare_manifest())
