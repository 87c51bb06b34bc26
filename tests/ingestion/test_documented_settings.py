"""Every documented source setting, set to each of its documented forms, loads the tiny world.

The README documents each setting and the forms it takes (an ad account id with or without `act_`, Shopify's
token or its client credentials, the client's pacing and retry settings, the export's windows); a form that
is documented but never run is a promise nobody checked.
"""

from __future__ import annotations

import json

import pytest

from cdp import paths
from ingestion.pipeline import run_source
from sandbox.credentials import dlt_environment
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_world_dir(tmp_path_factory):
    from sandbox.world.generate import generate_world

    world_dir = tmp_path_factory.mktemp("documented-settings") / "world"
    generate_world(world_dir, size="tiny", seed=7, progress=lambda _: None)
    return world_dir


def _with_world(world: dict, template: dict[str, str]) -> dict[str, str]:
    creds = world["credentials"]
    return {key: value.format(**{f"{vendor}_{name}": v for vendor, c in creds.items() for name, v in c.items()})
            for key, value in template.items()}


# source -> (setting overrides as environment variables, the table that must be loaded)
DOCUMENTED_FORMS = {
    "meta ad account id with act_": ("meta", {"SOURCES__META__AD_ACCOUNT_ID": "act_{meta_ad_account_id}"}, "campaigns"),
    "meta insights lookback of 0 days": ("meta", {"SOURCES__META__INSIGHTS_LOOKBACK_DAYS": "0"}, "insights"),
    "shopify access token instead of client credentials": (
        "shopify", {"SOURCES__SHOPIFY__ACCESS_TOKEN": "{shopify_access_token}", "SOURCES__SHOPIFY__CLIENT_ID": "",
                    "SOURCES__SHOPIFY__CLIENT_SECRET": ""}, "orders"),
    "shopify start date": ("shopify", {"SOURCES__SHOPIFY__START_DATE": "2025-06-01T00:00:00+00:00"}, "orders"),
    "hubspot start date": ("hubspot", {"SOURCES__HUBSPOT__START_DATE": "2025-06-01T00:00:00Z"}, "contacts"),
    "klaviyo revision and start date": (
        "klaviyo", {"SOURCES__KLAVIYO__REVISION": "2026-07-15", "SOURCES__KLAVIYO__START_DATE": "2025-06-01T00:00:00+00:00"},
        "profiles"),
    "mixpanel lookback of 0 days and one-day exports": (
        "mixpanel", {"SOURCES__MIXPANEL__LOOKBACK_DAYS": "0", "SOURCES__MIXPANEL__DAYS_PER_EXPORT": "1",
                     "SOURCES__MIXPANEL__START_DATE": "2026-09-01"}, "events"),
    "client settings for every vendor at once": (
        "hubspot", {"SOURCES__HTTP_TIMEOUT": "30", "SOURCES__HTTP_MAX_ATTEMPTS": "2", "SOURCES__HTTP_BACKOFF_SECONDS": "0.5",
                    "SOURCES__HTTP_MAX_WAIT_SECONDS": "10"}, "contacts"),
    "pacing per vendor": ("klaviyo", {"SOURCES__KLAVIYO__REQUESTS_PER_SECOND": "50",
                                      "SOURCES__KLAVIYO__REQUESTS_BURST": "5"}, "events"),
}


@pytest.mark.parametrize("form", sorted(DOCUMENTED_FORMS))
def test_each_documented_setting_form_loads_the_world(form, tiny_world_dir, monkeypatch):
    source, overrides, table = DOCUMENTED_FORMS[form]
    world = json.loads((tiny_world_dir / "world.json").read_text())
    monkeypatch.setenv("CDP_AS_OF", world["as_of"])
    with sandbox_in_thread(tiny_world_dir, Limits(enabled=False)) as base_url:
        for key, value in {**dlt_environment(world, base_url), **_with_world(world, overrides)}.items():
            if value:
                monkeypatch.setenv(key, value)
            else:
                monkeypatch.delenv(key, raising=False)
        report = run_source(source)
    assert report.rows.get(table, 0) > 0, report.summary()
    assert paths.warehouse_path().exists()
