"""Destination settings and the HTTP session every destination uses.

Settings are read like the sources' (dlt config and secrets): `destinations.<vendor>.<setting>`, or the
environment variable `DESTINATIONS__<VENDOR>__<SETTING>`. The sandbox sets them for its own accounts
(sandbox/credentials.py); for the real vendors the README lists each one. Secrets are never logged: errors
name the setting, not its value.

| vendor  | settings                                                                       |
|---------|--------------------------------------------------------------------------------|
| klaviyo | base_url (https://a.klaviyo.com), api_key (secret; scopes profiles:write, lists:write) |
| meta    | base_url (https://graph.facebook.com), api_version, access_token (secret; ads_management), ad_account_id, app_secret (optional) |
| hubspot | base_url (https://api.hubapi.com), access_token (secret; crm.objects.contacts.write, crm.schemas.contacts.write, tasks) |
| webhook | url (where rows go), token (optional bearer secret), alert_url (where failure alerts go; optional) |

The sessions share ingestion.http's retries, timeouts and fail-fast refusals; their pacing is a budget per
vendor account shared by every sync in every process (reverse_etl.rate), at the vendor's documented write
rate kept a little under (engineering.md): Klaviyo 150/min steady with 10/s bursts, HubSpot 190 per 10 s,
Meta's audience writes at a configured rate (Meta publishes a usage score, not a rate).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import dlt

from ingestion.http import Classifier, HttpPolicy, SourceConfigurationError, VendorSession, default_problem
from reverse_etl.rate import SharedRateBudget

DEFAULT_BASE_URLS = {
    "klaviyo": "https://a.klaviyo.com",
    "meta": "https://graph.facebook.com",
    "hubspot": "https://api.hubapi.com",
}


@dataclass(frozen=True)
class WriteRate:
    requests_per_second: float
    burst: float


WRITE_RATES = {
    "klaviyo": WriteRate(2.4, 10),  # 150/min steady (bulk import, list relationships), 10/s burst
    "hubspot": WriteRate(18.0, 10),  # 190 per rolling 10 s
    "meta": WriteRate(0.9, 1),  # the sandbox allows 60 audience writes per minute per ad account
    "webhook": WriteRate(10.0, 10),
}
# Fail a write after this many attempts; the engine records the rows as failed and retries them next run.
DEFAULT_POLICY = HttpPolicy(timeout=60.0, max_attempts=6, backoff_seconds=1.0, max_wait_seconds=300.0)


def setting(vendor: str, name: str, default: str | None = None, secret: bool = False) -> str | None:
    key = f"destinations.{vendor}.{name}"
    value = (dlt.secrets if secret else dlt.config).get(key)
    if value is None:
        value = default if default is not None else (DEFAULT_BASE_URLS.get(vendor) if name == "base_url" else None)
    return None if value is None else str(value)


def required_setting(vendor: str, name: str, secret: bool = False) -> str:
    value = setting(vendor, name, secret=secret)
    if not value:
        raise SourceConfigurationError(
            f"destinations.{vendor}.{name} is not set; set it in .dlt/secrets.toml or as the environment "
            f"variable DESTINATIONS__{vendor.upper()}__{name.upper()} (see reverse_etl/settings.py)."
        )
    return value


def account_of(secret: str) -> str:
    """A stable name for the account a secret opens (its rate budget's file name); never the secret itself."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


def _number(vendor: str, name: str, default: float) -> float:
    value = setting(vendor, name)
    try:
        return float(value) if value is not None else default
    except ValueError:
        raise SourceConfigurationError(f"destinations.{vendor}.{name} must be a number, got {value!r}") from None


def destination_policy(vendor: str) -> HttpPolicy:
    return replace(
        DEFAULT_POLICY,
        timeout=_number(vendor, "http_timeout", DEFAULT_POLICY.timeout),
        max_attempts=int(_number(vendor, "http_max_attempts", DEFAULT_POLICY.max_attempts)),
        backoff_seconds=_number(vendor, "http_backoff_seconds", DEFAULT_POLICY.backoff_seconds),
        max_wait_seconds=_number(vendor, "http_max_wait_seconds", DEFAULT_POLICY.max_wait_seconds),
    )


def destination_session(
    vendor: str, account: str, refused: dict[int, str], classify: Classifier = default_problem,
    max_attempts: int | None = None,
) -> VendorSession:
    """A session for one vendor account, paced by the account's shared budget."""
    rate = WRITE_RATES[vendor]
    policy = destination_policy(vendor)
    if max_attempts is not None:
        policy = replace(policy, max_attempts=max_attempts)
    budget = SharedRateBudget(
        f"{vendor}-{account}",
        _number(vendor, "requests_per_second", rate.requests_per_second),
        _number(vendor, "requests_burst", rate.burst),
    )
    return VendorSession(vendor, policy=policy, refused=refused, classify=classify, pacer=budget)
