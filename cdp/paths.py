"""The one place that knows where things live under CDP_HOME.

Nothing reads the environment at import time: every function looks it up when called, so tests can point
CDP_HOME at a temporary folder with monkeypatch.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cdp_home() -> Path:
    """`$CDP_HOME`, by default `.cdp/` in the checkout."""
    return Path(os.environ.get("CDP_HOME") or PROJECT_ROOT / ".cdp").resolve()


def warehouse_path() -> Path:
    return cdp_home() / "warehouse.duckdb"


def sandbox_dir() -> Path:
    """The sandbox's own state: the world, its truth files, the emulators' destination state."""
    return cdp_home() / "sandbox"


def world_dir() -> Path:
    """The vendor-shaped records the emulators serve (see sandbox/README.md)."""
    return sandbox_dir() / "world"


def pipelines_dir() -> Path:
    """dlt's pipeline state (incremental cursors), kept between runs."""
    return cdp_home() / "pipelines"


def syncs_dir() -> Path:
    """The sync engine's run folders (plan, delivery journal) and pause markers."""
    return cdp_home() / "syncs"


def dagster_home() -> Path:
    return cdp_home() / "dagster"


def dbt_project_dir() -> Path:
    return PROJECT_ROOT / "dbt_project"
