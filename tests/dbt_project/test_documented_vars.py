"""Every documented value of a dbt var builds, the project's own unit tests included; an undocumented value
stops the build naming the choices."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import e2e_home, isolated_cdp_home, refreshed_home, refreshed_tiny_home  # noqa: F401
from tests.helpers.dbt import build

# Every test here builds on a copy of the tiny world's one full refresh.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("refreshed_home")]

RECEIPT_ADDRESS_CHOICES = ("none", "receipts", "accounts")


@pytest.mark.parametrize("choice", RECEIPT_ADDRESS_CHOICES)
def test_each_documented_receipt_address_choice_builds_identity_and_passes_its_unit_tests(
    choice, tmp_path, monkeypatch
):
    result = build("identity", tmp_path, monkeypatch, dbt_vars={"identity_receipt_addresses": choice})
    assert result.success, result.exception
    assert all(r.status in ("success", "pass") for r in result.result)


def test_an_unknown_receipt_address_choice_stops_the_build_naming_the_choices(
    tmp_path, monkeypatch
):
    result = build("int_identity__kept_identifiers", tmp_path, monkeypatch,
                   dbt_vars={"identity_receipt_addresses": "everything"})
    assert not result.success
    message = " ".join(str(r.message) for r in (result.result or [])) + str(result.exception or "")
    assert "everything" in message and all(choice in message for choice in RECEIPT_ADDRESS_CHOICES)


# Each segment var set away from its default (the default is in the model that reads it): the segments and
# their unit tests still build. A unit test that only holds at the default pins the var in its overrides.
SEGMENT_VARS = {
    "cart_abandonment_window_hours": 72, "category_browser_min_views": 1, "category_browser_window_days": 30,
    "email_engagement_window_days": 30, "email_unengaged_min_received": 1, "high_intent_min_page_views": 5,
    "high_intent_window_days": 30, "interest_min_score": 1, "lifecycle_churn_rhythm_multiple": 3,
    "lifecycle_default_churn_days": 180, "lifecycle_min_churn_days": 90, "lifecycle_min_rhythm_orders": 2,
    "lifecycle_new_customer_days": 60, "trade_pipeline_ids": ["trade", "default"], "vip_max_days_since_order": 730,
    "vip_min_revenue_percent_rank": 0.8,
}


def test_the_segments_build_with_every_tuning_var_away_from_its_default(tmp_path, monkeypatch):
    result = build("segments", tmp_path, monkeypatch, dbt_vars=SEGMENT_VARS)
    assert result.success, [f"{r.node.name}: {r.message}" for r in (result.result or []) if r.status not in
                            ("success", "pass")] or result.exception


def test_every_var_the_models_read_is_exercised_here():
    import re

    from cdp.paths import dbt_project_dir

    read = set()
    for path in (dbt_project_dir() / "models").rglob("*.sql"):
        read |= set(re.findall(r"var\('([a-z_]+)'", path.read_text()))
    assert read - {"as_of"} == set(SEGMENT_VARS) | {"identity_receipt_addresses"}
