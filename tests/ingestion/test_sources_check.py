"""`cdp sources check` against the sandbox: every source passes with the world's settings, and each
misconfiguration that would make a run fail makes the check fail naming the setting (or scope) to fix: missing
or malformed dates, ids, versions and revisions, refused credentials, missing scopes, and base URLs that are
malformed, wrong, refused or unknown (reported quickly, as the base URL to check)."""

from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
import requests
from requests.adapters import HTTPAdapter

from cdp.sources_check import check_sources
from ingestion.http import REQUEST_STATS
from sandbox.credentials import dlt_environment
from sandbox.emulators.common import Limits
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import AS_OF, CREDENTIALS, add_records, make_world

VENDORS = ("hubspot", "shopify", "mixpanel", "klaviyo", "meta")
FORM_ID = "3000000001"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    world_dir = make_world(tmp_path_factory.mktemp("sources-check") / "world")
    created = AS_OF - timedelta(days=60)
    form = {"id": FORM_ID, "name": "Consultation", "status": "ACTIVE", "page_id": CREDENTIALS["meta"]["page_id"],
            "created_time": created.strftime("%Y-%m-%dT%H:%M:%S+0000")}  # fmt: skip
    add_records(world_dir, "meta", "leadgen_forms", [(FORM_ID, created, created, form)])
    add_records(world_dir, "meta", "leads", [])
    with sandbox_in_thread(world_dir, Limits(enabled=False)) as base:
        yield base, json.loads((world_dir / "world.json").read_text())


@pytest.fixture()
def configured(sandbox, monkeypatch):
    base, world = sandbox
    for key, value in dlt_environment(world, base).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CDP_AS_OF", AS_OF.isoformat())
    return base


def check(source: str):
    [result] = check_sources([source])
    return result


def configure(monkeypatch, changes: dict[str, str | None]) -> None:
    for name, value in changes.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_every_source_passes_with_the_configured_settings(configured):
    results = check_sources()
    assert [(r.source, r.ok) for r in results] == [(name, True) for name in VENDORS], [r.line() for r in results]
    lines = {r.source: r.line() for r in results}
    assert "tasks" in lines["hubspot"] and "checkouts" in lines["shopify"] and "campaigns" in lines["klaviyo"]
    assert "leads" in lines["meta"] and "note" not in lines["shopify"]


def test_a_refused_credential_fails_naming_the_setting(configured, monkeypatch):
    monkeypatch.setenv("SOURCES__HUBSPOT__ACCESS_TOKEN", "wrong")
    monkeypatch.setenv("SOURCES__MIXPANEL__PROJECT_ID", "999")
    monkeypatch.setenv("SOURCES__META__AD_ACCOUNT_ID", "424242")
    results = {r.source: r for r in check_sources(["hubspot", "mixpanel", "meta"])}
    assert not results["hubspot"].ok and "sources.hubspot.access_token" in results["hubspot"].detail
    assert not results["mixpanel"].ok and "sources.mixpanel.project_id" in results["mixpanel"].detail
    assert not results["meta"].ok and "sources.meta.ad_account_id" in results["meta"].detail
    assert "wrong" not in results["hubspot"].detail


# (source, settings changed (None: unset), what the failure must name)
MISCONFIGURATIONS = [
    pytest.param("hubspot", {"SOURCES__HUBSPOT__ACCESS_TOKEN": None}, "sources.hubspot.access_token is not set",
                 id="hubspot-token-missing"),
    pytest.param("hubspot", {"SOURCES__HUBSPOT__START_DATE": "last tuesday"}, "sources.hubspot.start_date",
                 id="hubspot-start-date-not-iso"),
    pytest.param("hubspot", {"SOURCES__HUBSPOT__HTTP_MAX_ATTEMPTS": "many"}, "sources.hubspot.http_max_attempts",
                 id="hubspot-attempts-not-a-number"),
    pytest.param("hubspot", {"SOURCES__HUBSPOT__HTTP_TIMEOUT": "0"}, "sources.hubspot.http_timeout",
                 id="hubspot-timeout-zero"),
    pytest.param("shopify", {"SOURCES__SHOPIFY__API_VERSION": "2025-7"}, "sources.shopify.api_version",
                 id="shopify-api-version-malformed"),
    pytest.param("shopify", {"SOURCES__SHOPIFY__CLIENT_ID": None, "SOURCES__SHOPIFY__CLIENT_SECRET": None},
                 "set sources.shopify.access_token, or sources.shopify.client_id", id="shopify-no-credentials"),
    pytest.param("shopify", {"SOURCES__SHOPIFY__CLIENT_SECRET": None}, "sources.shopify.client_secret is not set",
                 id="shopify-client-secret-missing"),
    pytest.param("shopify", {"SOURCES__SHOPIFY__CLIENT_SECRET": "not-the-secret"}, "sources.shopify.client_secret",
                 id="shopify-client-secret-refused"),
    pytest.param("shopify", {"SOURCES__SHOPIFY__CLIENT_ID": None, "SOURCES__SHOPIFY__CLIENT_SECRET": None,
                             "SOURCES__SHOPIFY__ACCESS_TOKEN": "shpat_wrong"},
                 "sources.shopify.access_token", id="shopify-access-token-refused"),
    pytest.param("shopify", {"SOURCES__SHOPIFY__START_DATE": "01/02/2024"}, "sources.shopify.start_date",
                 id="shopify-start-date-not-iso"),
    pytest.param("shopify", {"SOURCES__SHOPIFY__PAGE_SIZE": "0"}, "sources.shopify.page_size",
                 id="shopify-page-size-out-of-range"),
    pytest.param("mixpanel", {"SOURCES__MIXPANEL__START_DATE": None}, "sources.mixpanel.start_date is not set",
                 id="mixpanel-start-date-missing"),
    pytest.param("mixpanel", {"SOURCES__MIXPANEL__START_DATE": "2024-13-01"}, "sources.mixpanel.start_date",
                 id="mixpanel-start-date-not-a-date"),
    pytest.param("mixpanel", {"SOURCES__MIXPANEL__PROJECT_ID": "my-project"}, "sources.mixpanel.project_id",
                 id="mixpanel-project-id-not-a-number"),
    pytest.param("mixpanel", {"SOURCES__MIXPANEL__PROJECT_ID": None}, "sources.mixpanel.project_id is not set",
                 id="mixpanel-project-id-missing"),
    pytest.param("mixpanel", {"SOURCES__MIXPANEL__SECRET": "not-the-secret"}, "sources.mixpanel.secret",
                 id="mixpanel-secret-refused"),
    pytest.param("mixpanel", {"SOURCES__MIXPANEL__LOOKBACK_DAYS": "-1"}, "sources.mixpanel.lookback_days",
                 id="mixpanel-lookback-negative"),
    pytest.param("mixpanel", {"SOURCES__MIXPANEL__LOOKBACK_DAYS": "three"}, "sources.mixpanel.lookback_days must be",
                 id="mixpanel-lookback-not-a-number"),
    pytest.param("mixpanel", {"SOURCES__MIXPANEL__DAYS_PER_EXPORT": "0"}, "sources.mixpanel.days_per_export",
                 id="mixpanel-days-per-export-zero"),
    pytest.param("klaviyo", {"SOURCES__KLAVIYO__API_KEY": None}, "sources.klaviyo.api_key is not set",
                 id="klaviyo-api-key-missing"),
    pytest.param("klaviyo", {"SOURCES__KLAVIYO__API_KEY": "pk_wrong"}, "sources.klaviyo.api_key",
                 id="klaviyo-api-key-refused"),
    pytest.param("klaviyo", {"SOURCES__KLAVIYO__REVISION": "latest"}, "sources.klaviyo.revision",
                 id="klaviyo-revision-malformed"),
    pytest.param("klaviyo", {"SOURCES__KLAVIYO__START_DATE": "yesterday"}, "sources.klaviyo.start_date",
                 id="klaviyo-start-date-not-iso"),
    pytest.param("meta", {"SOURCES__META__START_DATE": None}, "sources.meta.start_date is not set",
                 id="meta-start-date-missing"),
    pytest.param("meta", {"SOURCES__META__START_DATE": "2024-02-30"}, "sources.meta.start_date",
                 id="meta-start-date-not-a-date"),
    pytest.param("meta", {"SOURCES__META__AD_ACCOUNT_ID": "my-ads"}, "sources.meta.ad_account_id",
                 id="meta-ad-account-not-a-number"),
    pytest.param("meta", {"SOURCES__META__PAGE_ID": None}, "sources.meta.page_id is not set",
                 id="meta-page-id-missing"),
    pytest.param("meta", {"SOURCES__META__PAGE_ID": "123"}, "sources.meta.page_id",
                 id="meta-page-id-unknown"),
    pytest.param("meta", {"SOURCES__META__API_VERSION": "23.0"}, "sources.meta.api_version",
                 id="meta-api-version-malformed"),
    pytest.param("meta", {"SOURCES__META__ACCESS_TOKEN": "EAAB-wrong"}, "sources.meta.access_token",
                 id="meta-token-refused"),
    pytest.param("meta", {"SOURCES__META__INSIGHTS_LOOKBACK_DAYS": "-2"}, "sources.meta.insights_lookback_days",
                 id="meta-lookback-negative"),
]  # fmt: skip


@pytest.mark.parametrize(("source", "changes", "named"), MISCONFIGURATIONS)
def test_a_misconfiguration_that_would_fail_the_run_fails_the_check_naming_the_setting(
    configured, monkeypatch, source, changes, named
):
    configure(monkeypatch, changes)
    result = check(source)
    assert not result.ok and named in result.detail, result.line()
    for name, value in changes.items():
        if value and any(word in name for word in ("TOKEN", "SECRET", "KEY")):
            assert value not in result.detail  # a refused secret is named, never shown


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_closed_port_is_reported_as_the_base_url_to_check(configured, monkeypatch, vendor):
    port = closed_port()
    monkeypatch.setenv(f"SOURCES__{vendor.upper()}__BASE_URL", f"http://127.0.0.1:{port}/{vendor}")
    before = REQUEST_STATS.snapshot(vendor).get("requests", 0)
    result = check(vendor)
    assert not result.ok, result.line()
    assert f"127.0.0.1:{port} (connection refused)" in result.detail
    assert f"Check sources.{vendor}.base_url." in result.detail and "http_max_attempts" not in result.detail
    assert REQUEST_STATS.snapshot(vendor).get("requests", 0) - before == 2  # the check's two attempts, no more
    assert CREDENTIALS["meta"]["access_token"] not in result.detail


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_unknown_host_is_reported_as_the_base_url_to_check(configured, monkeypatch, no_dns_for_invalid, vendor):
    monkeypatch.setenv(f"SOURCES__{vendor.upper()}__BASE_URL", f"https://{vendor}.example.invalid")
    result = check(vendor)
    assert not result.ok, result.line()
    assert f"{vendor}.example.invalid:443 (unknown host name)" in result.detail
    assert f"Check sources.{vendor}.base_url." in result.detail


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_base_url_that_is_no_url_is_reported_as_the_base_url_to_check(configured, monkeypatch, vendor):
    monkeypatch.setenv(f"SOURCES__{vendor.upper()}__BASE_URL", f"{vendor}.example.invalid/api")
    before = REQUEST_STATS.snapshot(vendor).get("requests", 0)
    result = check(vendor)
    assert not result.ok and "is not an http(s) URL" in result.detail, result.line()
    assert f"Check sources.{vendor}.base_url" in result.detail
    assert REQUEST_STATS.snapshot(vendor).get("requests", 0) == before


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_base_url_with_a_wrong_path_is_reported_as_the_base_url_to_check(configured, monkeypatch, vendor):
    monkeypatch.setenv(f"SOURCES__{vendor.upper()}__BASE_URL", f"{configured}/{vendor}/v23.0")
    result = check(vendor)
    assert not result.ok and f"sources.{vendor}.base_url" in result.detail, result.line()


# -- what the sandbox does not play: a vendor's answers to missing scopes and unsupported revisions -------------


def vendor_answers(monkeypatch, url_part: str, status: int, body: dict) -> None:
    """Requests whose URL contains `url_part` get this answer; every other request reaches the sandbox."""
    send = HTTPAdapter.send

    def answering(self, request, *args, **kwargs):
        if url_part not in request.url:
            return send(self, request, *args, **kwargs)
        response = requests.Response()
        response.status_code, response._content = status, json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url, response.request = request.url, request
        return response

    monkeypatch.setattr(HTTPAdapter, "send", answering)


# Each vendor's documented answer to a token without the scope an endpoint needs.
MISSING_SCOPES = [
    pytest.param("hubspot", "/crm/v3/objects/deals/search", 403, {
        "status": "error", "category": "MISSING_SCOPES",
        "message": "This app hasn't been granted all required scopes to make this call.",
        "errors": [{"message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": ["crm.objects.deals.read"]}}]},
        ["crm.objects.deals.read", "scopes"], id="hubspot"),
    pytest.param("shopify", "/checkouts.json", 403, {
        "errors": "[API] This action requires merchant approval for read_checkouts scope."},
        ["read_checkouts", "access scopes"], id="shopify"),
    pytest.param("klaviyo", "/api/events/", 403, {"errors": [{
        "status": 403, "code": "permission_denied", "title": "You do not have permission to perform this action.",
        "detail": "You do not have permission to perform this action."}]},
        ["events:read", "scopes"], id="klaviyo"),
    pytest.param("meta", "/leads", 400, {"error": {
        "message": "(#200) Requires leads_retrieval permission to manage the object", "type": "OAuthException",
        "code": 200}}, ["leads_retrieval", "permissions"], id="meta"),
]  # fmt: skip


@pytest.mark.parametrize(("vendor", "url_part", "status", "body", "named"), MISSING_SCOPES)
def test_a_token_missing_a_scope_fails_naming_the_scope(configured, monkeypatch, vendor, url_part, status, body, named):
    vendor_answers(monkeypatch, url_part, status, body)
    result = check(vendor)
    assert not result.ok and all(text in result.detail for text in named), result.line()


def test_a_shopify_app_without_the_history_scope_passes_with_a_note(configured, monkeypatch):
    send = HTTPAdapter.send

    def narrower_grant(self, request, *args, **kwargs):
        response = send(self, request, *args, **kwargs)
        if request.url.endswith("/admin/oauth/access_token"):
            answer = response.json()
            answer["scope"] = "read_customers,write_orders,read_products,read_checkouts"
            response._content = json.dumps(answer).encode()
        return response

    monkeypatch.setattr(HTTPAdapter, "send", narrower_grant)
    result = check("shopify")
    assert result.ok and "read_all_orders not granted" in result.detail, result.line()


def test_a_klaviyo_revision_the_api_refuses_is_named(configured, monkeypatch):
    monkeypatch.setenv("SOURCES__KLAVIYO__REVISION", "2019-01-01")
    vendor_answers(monkeypatch, "/api/profiles/", 400, {"errors": [{
        "status": 400, "code": "invalid", "title": "Invalid input.",
        "detail": "Invalid revision: 2019-01-01", "source": {"parameter": "revision"}}]})  # fmt: skip
    result = check("klaviyo")
    assert not result.ok and "sources.klaviyo.revision" in result.detail, result.line()


def test_a_wrong_meta_app_secret_is_named(configured, monkeypatch):
    monkeypatch.setenv("SOURCES__META__APP_SECRET", "not-the-app-secret")
    vendor_answers(monkeypatch, "/campaigns", 400, {"error": {
        "message": "Invalid appsecret_proof provided in the API argument", "type": "GraphMethodException",
        "code": 100}})  # fmt: skip
    result = check("meta")
    assert not result.ok and "sources.meta.app_secret" in result.detail, result.line()
    assert "not-the-app-secret" not in result.detail
