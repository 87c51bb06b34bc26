"""Shared fixtures. Every test gets its own CDP_HOME, so nothing touches the developer's .cdp/."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def isolated_cdp_home(tmp_path, monkeypatch):
    home = tmp_path / "cdp_home"
    monkeypatch.setenv("CDP_HOME", str(home))
    monkeypatch.delenv("CDP_AS_OF", raising=False)
    return home
