"""Every documented value of a dbt var builds, the project's own unit tests included; an undocumented value
stops the build naming the choices."""

from __future__ import annotations

import pytest

from tests.helpers.dbt import build

pytestmark = pytest.mark.slow

RECEIPT_ADDRESS_CHOICES = ("none", "receipts", "accounts")


@pytest.mark.parametrize("choice", RECEIPT_ADDRESS_CHOICES)
def test_each_documented_receipt_address_choice_builds_identity_and_passes_its_unit_tests(
    choice, refreshed_home, tmp_path, monkeypatch
):
    result = build("identity", tmp_path, monkeypatch, dbt_vars={"identity_receipt_addresses": choice})
    assert result.success, result.exception
    assert all(r.status in ("success", "pass") for r in result.result)


def test_an_unknown_receipt_address_choice_stops_the_build_naming_the_choices(
    refreshed_home, tmp_path, monkeypatch
):
    result = build("int_identity__kept_identifiers", tmp_path, monkeypatch,
                   dbt_vars={"identity_receipt_addresses": "everything"})
    assert not result.success
    message = " ".join(str(r.message) for r in (result.result or [])) + str(result.exception or "")
    assert "everything" in message and all(choice in message for choice in RECEIPT_ADDRESS_CHOICES)
