"""`cdp sources check` against the sandbox: every source passes with the world's credentials, and a wrong
credential or an unreachable host fails naming what to fix."""

from __future__ import annotations

import json

import pytest

from cdp.sources_check import check_sources
from sandbox.credentials import dlt_environment
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import make_world


@pytest.fixture()
def configured(tmp_path, monkeypatch):
    world_dir = make_world(tmp_path / "world")
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        for key, value in dlt_environment(json.loads((world_dir / "world.json").read_text()), base).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("CDP_AS_OF", "2026-10-01T00:00:00+00:00")
        yield base


def test_every_source_passes_with_the_configured_credentials(configured):
    results = check_sources()
    assert [(r.source, r.ok) for r in results] == [
        (name, True) for name in ("hubspot", "shopify", "mixpanel", "klaviyo", "meta")
    ], [r.line() for r in results]


def test_a_refused_credential_fails_naming_the_setting(configured, monkeypatch):
    monkeypatch.setenv("SOURCES__HUBSPOT__ACCESS_TOKEN", "wrong")
    monkeypatch.setenv("SOURCES__MIXPANEL__PROJECT_ID", "999")
    monkeypatch.setenv("SOURCES__META__AD_ACCOUNT_ID", "424242")
    results = {r.source: r for r in check_sources(["hubspot", "mixpanel", "meta"])}
    assert not results["hubspot"].ok and "sources.hubspot.access_token" in results["hubspot"].detail
    assert not results["mixpanel"].ok and "sources.mixpanel.project_id" in results["mixpanel"].detail
    assert not results["meta"].ok and "sources.meta.ad_account_id" in results["meta"].detail
    assert "wrong" not in results["hubspot"].detail


def test_a_missing_setting_and_an_unreachable_host_are_reported(configured, monkeypatch):
    monkeypatch.delenv("SOURCES__KLAVIYO__API_KEY")
    monkeypatch.setenv("SOURCES__SHOPIFY__BASE_URL", "http://127.0.0.1:9/shopify")
    monkeypatch.setenv("SOURCES__SHOPIFY__HTTP_MAX_ATTEMPTS", "1")
    results = {r.source: r for r in check_sources(["klaviyo", "shopify"])}
    assert not results["klaviyo"].ok and "sources.klaviyo.api_key is not set" in results["klaviyo"].detail
    assert not results["shopify"].ok and "failed" in results["shopify"].detail
