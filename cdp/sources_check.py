"""`cdp sources check`: can each configured source reach its vendor, and does the vendor accept the credentials?

One cheap read per source (a one-row page), through the same session the source uses, against whatever dlt's
configuration points at (`.dlt/config.toml`, `.dlt/secrets.toml`, `SOURCES__...` variables). A missing
setting, a refused token or an unreachable host is reported with the setting to fix; nothing is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import dlt
import requests

from ingestion.http import (
    SourceConfigurationError,
    VendorSession,
    VendorUnavailableError,
    error_text,
    http_policy,
)


@dataclass
class CheckResult:
    source: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.source:<9} {self.detail}"


class MissingSetting(Exception):
    pass


def setting(vendor: str, name: str, secret: bool = False) -> str:
    provider = dlt.secrets if secret else dlt.config
    value = provider.get(f"sources.{vendor}.{name}")
    if value in (None, ""):
        raise MissingSetting(f"sources.{vendor}.{name} is not set")
    return str(value)


def _session(vendor: str, refused: dict[int, str]) -> VendorSession:
    # A check should answer in seconds: two attempts, short waits, whatever the run settings say.
    policy = http_policy(vendor)
    quick = type(policy)(timeout=min(policy.timeout, 20.0), max_attempts=2, backoff_seconds=1.0,
                         max_wait_seconds=5.0)  # fmt: skip
    return VendorSession(vendor, quick, refused=refused)


def _expect_ok(response: requests.Response, what: str) -> str:
    if response.status_code >= 400:
        raise SourceConfigurationError(f"{what} answered HTTP {response.status_code}: {error_text(response)}")
    return what


def check_hubspot() -> str:
    base, token = setting("hubspot", "base_url"), setting("hubspot", "access_token", secret=True)
    session = _session("hubspot", {401: "sources.hubspot.access_token", 403: "the private app's scopes"})
    response = session.get(f"{base.rstrip('/')}/crm/v3/owners", params={"limit": 1},
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    return _expect_ok(response, f"owners readable at {base}")


def check_shopify() -> str:
    from ingestion.shopify.helpers import ShopifyAdminClient

    base = setting("shopify", "base_url")
    version = dlt.config.get("sources.shopify.api_version") or "2025-07"
    client = ShopifyAdminClient(
        base,
        version,
        dlt.secrets.get("sources.shopify.access_token"),
        dlt.secrets.get("sources.shopify.client_id"),
        dlt.secrets.get("sources.shopify.client_secret"),
    )
    next(client.pages("orders", {"limit": 1, "status": "any"}))
    return f"orders readable at {base} (api {version})"


def check_mixpanel() -> str:
    from cdp.clock import as_of
    from ingestion.mixpanel.helpers import EXPORT_PATH, REFUSED

    base, project = setting("mixpanel", "base_url"), setting("mixpanel", "project_id")
    auth = (setting("mixpanel", "username", secret=True), setting("mixpanel", "secret", secret=True))
    day = (as_of() - timedelta(days=1)).date().isoformat()
    session = _session("mixpanel", REFUSED)
    # One export query (of Mixpanel's 60 an hour), one event of yesterday.
    response = session.get(f"{base.rstrip('/')}{EXPORT_PATH}", auth=auth,
                           params={"project_id": project, "from_date": day, "to_date": day, "limit": 1})  # fmt: skip
    return _expect_ok(response, f"project {project} exportable at {base}")


def check_klaviyo() -> str:
    from ingestion.klaviyo.helpers import REFUSED, headers
    from ingestion.klaviyo.settings import DEFAULT_REVISION

    base, key = setting("klaviyo", "base_url"), setting("klaviyo", "api_key", secret=True)
    revision = dlt.config.get("sources.klaviyo.revision") or DEFAULT_REVISION
    session = _session("klaviyo", REFUSED)
    response = session.get(f"{base.rstrip('/')}/api/lists/", params={"page[size]": 1},
                           headers={**headers(revision), "Authorization": f"Klaviyo-API-Key {key}"})  # fmt: skip
    return _expect_ok(response, f"lists readable at {base} (revision {revision})")


def check_meta() -> str:
    from ingestion.meta.helpers import GraphClient

    base = setting("meta", "base_url")
    version = dlt.config.get("sources.meta.api_version") or "v23.0"
    client = GraphClient(base, version, setting("meta", "access_token", secret=True))
    account = "act_" + setting("meta", "ad_account_id").removeprefix("act_")
    page = setting("meta", "page_id")
    next(client.pages(f"{account}/campaigns", {"fields": "id", "limit": 1}))
    next(client.pages(f"{page}/leadgen_forms", {"fields": "id", "limit": 1}))
    return f"ad account {account} and page {page} readable at {base} ({version})"


CHECKS: dict[str, Callable[[], str]] = {
    "hubspot": check_hubspot,
    "shopify": check_shopify,
    "mixpanel": check_mixpanel,
    "klaviyo": check_klaviyo,
    "meta": check_meta,
}


def check_sources(names: list[str] | None = None) -> list[CheckResult]:
    results = []
    for name in names or list(CHECKS):
        if name not in CHECKS:
            results.append(CheckResult(name, False, f"unknown source: choose from {', '.join(CHECKS)}"))
            continue
        try:
            results.append(CheckResult(name, True, CHECKS[name]()))
        except MissingSetting as missing:
            results.append(CheckResult(name, False, f"{missing} (dlt config/secrets or SOURCES__... variables)"))
        except (SourceConfigurationError, VendorUnavailableError) as refused:
            results.append(CheckResult(name, False, str(refused)))
        except requests.RequestException as unreachable:
            results.append(CheckResult(name, False, f"cannot reach the vendor: {type(unreachable).__name__}"))
        except Exception as other:  # noqa: BLE001 - a check reports every failure rather than stopping
            results.append(CheckResult(name, False, f"{type(other).__name__}: {str(other)[:300]}"))
    return results
