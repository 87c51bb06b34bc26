"""A failed run says what failed, in words a user can act on: the step, and the setting or vendor field."""

from __future__ import annotations

import pytest

from orchestration.run import failure_summary, materialize

pytestmark = pytest.mark.slow


def test_a_run_against_an_unreachable_vendor_names_the_step_and_the_base_url_setting(monkeypatch):
    # Port 9 (discard) is closed on loopback: nothing answers, nothing leaves the machine.
    monkeypatch.setenv("SOURCES__HUBSPOT__BASE_URL", "http://127.0.0.1:9/hubspot")
    monkeypatch.setenv("SOURCES__HUBSPOT__ACCESS_TOKEN", "unused")
    result = materialize(['key:"hubspot/owners"'])
    assert not result.success
    lines = failure_summary(result)
    assert lines[0].startswith("The run failed at 1 step(s)")
    [failed] = lines[1:]
    assert "hubspot_ingestion" in failed and "sources.hubspot.base_url" in failed
