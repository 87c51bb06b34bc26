"""`cdp sources check`: would each configured source get past its configuration, and does its vendor accept it?

For each source, in the order a run meets them:
1. its settings, resolved by dlt exactly as a run resolves them (`.dlt/config.toml`, `.dlt/secrets.toml`,
   `SOURCES__...` variables): a required setting that is missing, or a value of the wrong type, is named;
2. the source is built from them, so every check the source makes of its own settings runs (dates, lookbacks,
   page size, the HTTP settings); then the checks its package keeps for values the vendor would only refuse
   mid-run (api versions and revisions, ids, credentials present);
3. a one-row read of every endpoint the source reads, through the session the source uses: a malformed or
   unreachable base URL, a refused token, a missing scope, an unknown account, page or project is named.

A line says ok only when a run would get past its configuration. Nothing is loaded and no secret is printed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.exceptions import (
    ConfigFieldMissingException,
    ConfigValueCannotBeCoercedException,
)

from ingestion.http import (
    SourceConfigurationError,
    VendorSession,
    VendorUnavailableError,
    error_text,
    http_policy,
    network_problem,
)
from ingestion.pipeline import source_factory

Settings = Mapping[str, Any]


@dataclass
class CheckResult:
    source: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.source:<9} {self.detail}"


class MissingSetting(Exception):
    pass


# Fields whose value is never repeated in a message, whatever its type.
_SECRET_WORDS = ("token", "secret", "key", "password", "username")


def source_settings(vendor: str) -> dict[str, Any]:
    """The arguments a run gives the vendor's source, resolved by dlt from the same places and in the same
    order (the source's own configuration spec), so a setting the run would miss is missed here too."""
    ref = source_factory(vendor).ref
    try:
        return dict(resolve_configuration(ref.SPEC(), sections=("sources", ref.section, ref.name)))
    except ConfigFieldMissingException as missing:
        fields = list(missing.fields)
        names = ", ".join(f"sources.{vendor}.{field}" for field in fields)
        variable = f"SOURCES__{vendor.upper()}__{fields[0].upper() if len(fields) == 1 else '<SETTING>'}"
        raise MissingSetting(
            f"{names} {'is' if len(fields) == 1 else 'are'} not set (dlt config or secrets, or {variable})"
        ) from None
    except ConfigValueCannotBeCoercedException as wrong:
        name = wrong.field_name
        shown = "" if any(word in name for word in _SECRET_WORDS) else f", got {wrong.field_value!r}"
        kind = getattr(wrong.hint, "__name__", str(wrong.hint))
        raise SourceConfigurationError(f"sources.{vendor}.{name} must be {kind}{shown}") from None


def _session(vendor: str, refused: Mapping[int, str], **kwargs) -> VendorSession:
    # A check should answer in seconds: two attempts, short waits, whatever the run settings say.
    policy = http_policy(vendor)
    quick = type(policy)(timeout=min(policy.timeout, 20.0), max_attempts=2, backoff_seconds=1.0,
                         max_wait_seconds=5.0, requests_per_second=policy.requests_per_second,
                         burst=policy.burst)  # fmt: skip
    return VendorSession(vendor, quick, refused=refused, **kwargs)


def _shown(url: str) -> str:
    """A base URL as printed: without any user or password in it."""
    return re.sub(r"//[^/@]*@", "//", url.rstrip("/"))


def _expect_ok(
    response: requests.Response,
    vendor: str,
    what: str,
    describe: Callable[[requests.Response], str] = error_text,
    also_check: str = "",
) -> None:
    """An answer that lets the run go on; a 404 on an endpoint the source reads means the base URL is off."""
    if response.status_code < 400:
        return
    problem = f"{vendor}: {what} answered HTTP {response.status_code} ({describe(response)})"
    if response.status_code == 404:
        raise SourceConfigurationError(f"{problem}. Check sources.{vendor}.base_url{also_check}.")
    raise SourceConfigurationError(problem + ".")


# -- one check per source: its package's checks, then a one-row read of each endpoint the source reads ----------


def check_hubspot(settings: Settings) -> str:
    from ingestion.hubspot.helpers import REFUSED, hubspot_error_text, hubspot_problem
    from ingestion.hubspot.settings import OBJECT_PROPERTIES

    base = settings["base_url"].rstrip("/")
    session = _session("hubspot", REFUSED, classify=hubspot_problem, describe_error=hubspot_error_text)
    auth = {"Authorization": f"Bearer {settings['access_token']}"}
    for path in ("/crm/v3/owners", "/crm/v3/pipelines/deals"):
        response = session.get(f"{base}{path}", params={"limit": 1}, headers=auth)
        _expect_ok(response, "hubspot", f"GET {path}", hubspot_error_text)
    # Each object has its own scope: a token missing one would fail that object's resource mid-run.
    for object_type in OBJECT_PROPERTIES:
        path = f"/crm/v3/objects/{object_type}/search"
        response = session.post(f"{base}{path}", json={"limit": 1, "properties": ["hs_object_id"]}, headers=auth)
        _expect_ok(response, "hubspot", f"POST {path}", hubspot_error_text)
    return f"owners, deal pipelines, {', '.join(OBJECT_PROPERTIES)} readable at {_shown(base)}"


def check_shopify(settings: Settings) -> str:
    from ingestion.shopify.helpers import (
        HISTORY_SCOPE,
        REFUSED,
        REQUIRED_SCOPES,
        ShopifyAdminClient,
        check_api_version,
        check_credentials,
    )
    from ingestion.shopify.settings import RESOURCES

    version = check_api_version(settings["api_version"])
    secrets = settings["access_token"], settings["client_id"], settings["client_secret"]
    check_credentials(*secrets)
    client = ShopifyAdminClient(settings["base_url"], version, *secrets, session=_session("shopify", REFUSED))
    for resource, extra in RESOURCES.items():
        try:
            next(client.pages(resource, {**extra, "limit": 1}))
        except requests.HTTPError as refused:
            if refused.response is not None and refused.response.status_code == 404:
                raise SourceConfigurationError(
                    f"shopify: {refused}. Check sources.shopify.base_url (https://{{shop}}.myshopify.com) and "
                    "sources.shopify.api_version."
                ) from None
            raise
    detail = f"{', '.join(RESOURCES)} readable at {_shown(client.base_url)} (api {version})"
    granted = client.granted_scopes
    if granted is not None:
        # A write scope includes its read scope.
        missing = [s for s in REQUIRED_SCOPES if s not in granted and s.replace("read_", "write_") not in granted]
        if missing:
            raise SourceConfigurationError(
                f"shopify: the app's token lacks the access scopes {', '.join(missing)}. Grant them to the app "
                "(sources.shopify.client_id)."
            )
        if HISTORY_SCOPE not in granted:
            detail += f"; note: scope {HISTORY_SCOPE} not granted, so Shopify returns only the last 60 days of orders"
    return detail


def check_mixpanel(settings: Settings) -> str:
    from cdp.clock import as_of
    from ingestion.mixpanel.helpers import REFUSED, check_days_per_export, check_project_id
    from ingestion.mixpanel.settings import EXPORT_PATH

    project = check_project_id(settings["project_id"])
    check_days_per_export(settings["days_per_export"])
    base = settings["base_url"].rstrip("/")
    day = (as_of() - timedelta(days=1)).date().isoformat()
    session = _session("mixpanel", REFUSED)
    # One export query (of Mixpanel's 60 an hour), one event of yesterday.
    response = session.get(f"{base}{EXPORT_PATH}", auth=(settings["username"], settings["secret"]),
                           params={"project_id": project, "from_date": day, "to_date": day, "limit": 1})  # fmt: skip
    _expect_ok(response, "mixpanel", f"GET {EXPORT_PATH}", also_check=" (https://data.mixpanel.com; EU: https://data-eu.mixpanel.com)")
    return f"project {project} exportable at {_shown(base)}"


def check_klaviyo(settings: Settings) -> str:
    from ingestion.klaviyo.helpers import REFUSED, campaigns_filter, check_revision, check_start_date, headers
    from ingestion.klaviyo.settings import DEFAULT_START_DATE

    revision = check_revision(settings["revision"])
    start = check_start_date(settings["start_date"]) or DEFAULT_START_DATE
    base = settings["base_url"].rstrip("/")
    session = _session("klaviyo", REFUSED)
    auth = {**headers(revision), "Authorization": f"Klaviyo-API-Key {settings['api_key']}"}
    reads = {
        "profiles": {"page[size]": 1},
        "lists": {"page[size]": 1},
        "metrics": {},
        "events": {"page[size]": 1},
        "campaigns": {"filter": campaigns_filter("email", start)},
    }
    for name, params in reads.items():
        path = f"/api/{name}/"
        response = session.get(f"{base}{path}", params=params, headers=auth)
        if response.status_code == 400 and "revision" in error_text(response).lower():
            raise SourceConfigurationError(
                f"klaviyo refused revision {revision!r} ({error_text(response)}). Check sources.klaviyo.revision."
            )
        _expect_ok(response, "klaviyo", f"GET {path}")
    return f"{', '.join(reads)} readable at {_shown(base)} (revision {revision})"


def check_meta(settings: Settings) -> str:
    from cdp.clock import as_of
    from ingestion.meta.helpers import (
        GraphClient,
        MetaApiError,
        account_node,
        check_api_version,
        check_page_id,
    )

    version = check_api_version(settings["api_version"])
    account, page = account_node(settings["ad_account_id"]), check_page_id(settings["page_id"])
    base = settings["base_url"].rstrip("/")
    client = GraphClient(base, version, settings["access_token"], settings["app_secret"],
                         session=_session("meta", {}))  # fmt: skip
    day = (as_of() - timedelta(days=1)).date().isoformat()
    try:
        next(client.pages(f"{account}/campaigns", {"fields": "id", "limit": 1}))
        next(client.pages(f"{account}/insights", {"level": "campaign", "fields": "campaign_id", "limit": 1,
                                                   "time_range": json.dumps({"since": day, "until": day})}))  # fmt: skip
        forms = next(client.pages(f"{page}/leadgen_forms", {"fields": "id", "limit": 1}))
        if forms:
            # Leads need their own permission (leads_retrieval): read one form's.
            next(client.pages(f"{forms[0]['id']}/leads", {"fields": "id", "limit": 1}))
    except MetaApiError as refused:
        if refused.status == 404:
            raise SourceConfigurationError(f"meta: {refused}. Check sources.meta.base_url.") from None
        raise
    return f"ad account {account} (campaigns, insights) and page {page} (lead forms, leads) readable at {_shown(base)} ({version})"


CHECKS: dict[str, Callable[[Settings], str]] = {
    "hubspot": check_hubspot,
    "shopify": check_shopify,
    "mixpanel": check_mixpanel,
    "klaviyo": check_klaviyo,
    "meta": check_meta,
}


def check_source(name: str) -> str:
    settings = source_settings(name)
    # Built as a run builds it: whatever the source itself refuses in its settings is refused here.
    source_factory(name)(**settings)
    return CHECKS[name](settings)


def check_sources(names: list[str] | None = None) -> list[CheckResult]:
    results = []
    for name in names or list(CHECKS):
        if name not in CHECKS:
            results.append(CheckResult(name, False, f"unknown source: choose from {', '.join(CHECKS)}"))
            continue
        try:
            results.append(CheckResult(name, True, check_source(name)))
        except (MissingSetting, SourceConfigurationError, VendorUnavailableError) as refused:
            results.append(CheckResult(name, False, str(refused)))
        except ValueError as invalid:  # a source's own check of a setting (each names the setting)
            results.append(CheckResult(name, False, str(invalid)[:500]))
        except requests.RequestException as failed:
            results.append(CheckResult(name, False, f"cannot reach the vendor: {network_problem(failed)}"))
        except Exception as other:  # noqa: BLE001 - a check reports every failure rather than stopping
            results.append(CheckResult(name, False, f"{type(other).__name__}: {str(other)[:300]}"))
    return results
