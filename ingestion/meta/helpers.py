"""Meta Graph API I/O: one client that follows `paging.next` and waits out Meta's in-body throttling."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta

from ingestion.http import REQUEST_STATS, CursorGuard, SettingError, SourceConfigurationError, VendorSession
from ingestion.meta.settings import (
    MAX_THROTTLE_WAIT_SECONDS,
    MAX_THROTTLED_ATTEMPTS,
    THROTTLE_BACKOFF_SECONDS,
    THROTTLING_CODES,
)


class MetaApiError(RuntimeError):
    def __init__(self, path: str, status: int, error: Mapping):
        self.status, self.error = status, dict(error)
        code, subcode = error.get("code"), error.get("error_subcode")
        super().__init__(
            f"Meta API {path} answered HTTP {status}, code {code}"
            + (f"/{subcode}" if subcode else "")
            + f": {error.get('message', 'no message')}"
        )


# -- settings, checked the same way by the source and `cdp sources check` -------------------------------------


def parse_start_date(start_date: str) -> datetime:
    """The first insights day and the lower bound of leads (naive: read as UTC by the source)."""
    try:
        return datetime.fromisoformat(str(start_date))
    except ValueError:
        raise SettingError(
            f"sources.meta.start_date must be an ISO 8601 date or date-time (e.g. 2024-01-01), got {start_date!r}"
        ) from None


def check_lookback_days(insights_lookback_days: int) -> int:
    if insights_lookback_days < 0:
        raise SettingError(
            f"sources.meta.insights_lookback_days must not be negative, got {insights_lookback_days}"
        )
    return insights_lookback_days


def check_api_version(api_version: str) -> str:
    if not re.fullmatch(r"v\d+\.\d+", str(api_version)):
        raise SettingError(f"sources.meta.api_version must look like v23.0, got {api_version!r}")
    return api_version


def account_node(ad_account_id: str) -> str:
    """`act_<digits>`, from the digits with or without the prefix (Business Settings > Ad accounts)."""
    digits = str(ad_account_id).strip().removeprefix("act_")
    if not digits.isdigit():
        raise SettingError(
            f"sources.meta.ad_account_id must be the ad account's number, with or without act_, got {ad_account_id!r}"
        )
    return f"act_{digits}"


def check_page_id(page_id: str) -> str:
    if not str(page_id).strip().isdigit():
        raise SettingError(f"sources.meta.page_id must be the page's number, got {page_id!r}")
    return str(page_id).strip()


# -- pure helpers ---------------------------------------------------------------------------------------


def error_of(body: object) -> dict:
    """The `error` object of a Graph API answer, or {} when there is none."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return {}


def is_throttled(error: Mapping) -> bool:
    return error.get("code") in THROTTLING_CODES


def throttle_wait_seconds(
    headers: Mapping[str, str],
    attempt: int,
    backoff_seconds: float = THROTTLE_BACKOFF_SECONDS,
    max_wait_seconds: float = MAX_THROTTLE_WAIT_SECONDS,
) -> float:
    """How long to wait after a throttled answer: Meta's own estimate when it gives one, else backoff.

    `X-Business-Use-Case-Usage` is `{"<account id>": [{"type", "call_count", ..., "estimated_time_to_regain_access":
    <minutes>}]}`; the longest estimate of any listed use case wins.
    """
    minutes = 0
    for header in ("X-Business-Use-Case-Usage", "X-Ad-Account-Usage"):
        try:
            usage = json.loads(headers.get(header) or "{}")
        except json.JSONDecodeError:
            continue
        entries = (
            [e for v in usage.values() if isinstance(v, list) for e in v] if isinstance(usage, dict) else []
        )
        if isinstance(usage, dict) and "estimated_time_to_regain_access" in usage:
            entries.append(usage)
        for entry in entries:
            if isinstance(entry, dict):
                minutes = max(minutes, int(entry.get("estimated_time_to_regain_access") or 0))
    backoff = backoff_seconds * 2**attempt
    return min(max_wait_seconds, minutes * 60 if minutes else backoff)


def appsecret_proof(access_token: str, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def parse_meta_time(value: str) -> datetime:
    """Meta writes times as `2026-01-31T09:15:00+0000`."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def insights_window(
    reported_through: str | None, start_date: date, lookback_days: int, today: date
) -> tuple[date, date]:
    """The first run reads from the start date; later runs re-read the lookback before the last day read."""
    if reported_through is None:
        return min(start_date, today), today
    since = date.fromisoformat(reported_through) - timedelta(days=lookback_days)
    return max(min(since, today), start_date), today


def lead_filtering(created_after: int) -> str:
    """Leads strictly after `created_after` (epoch s). Runs pass the last seen second minus one, so leads
    created in that same second are read again (the merge keeps one) rather than missed."""
    return json.dumps([{"field": "time_created", "operator": "GREATER_THAN", "value": created_after}])


# -- the client -----------------------------------------------------------------------------------------


def configuration_problem(error: Mapping, path: str) -> str | None:
    """The setting to check when Meta refuses what is configured, or None for any other error."""
    code, message = error.get("code"), str(error.get("message", ""))
    if code == 100 and "appsecret_proof" in message:
        return "sources.meta.app_secret (the app's secret, when the app requires appsecret_proof)"
    if code == 2500:
        # The source's edges exist: a path Meta cannot read means the version or the base URL is off (e.g. a
        # base URL that already ends in /v23.0).
        return "sources.meta.base_url (https://graph.facebook.com, without a version) and sources.meta.api_version"
    if code == 2635:
        return "sources.meta.api_version (Meta no longer serves this version)"
    if code == 190:
        return "sources.meta.access_token (a system-user token with ads_read and leads_retrieval; expired?)"
    if code in (10, 200) or (isinstance(code, int) and 200 <= code < 300):
        return "the token's permissions: ads_read, leads_retrieval, pages_manage_ads"
    if code == 100 and error.get("error_subcode") == 33:
        node = path.split("/", 1)[0]
        return "sources.meta.ad_account_id" if node.startswith("act_") else f"sources.meta.page_id (or form {node})"
    return None


class GraphClient:
    """GET `{base_url}/{api_version}/{path}` and follow the pages. The shared vendor session underneath
    retries 5xx, timeouts, dropped connections and cut bodies; this class adds Meta's throttling codes, which
    arrive as HTTP 400, and fails at once, naming the setting, on a refused token or an unknown account."""

    def __init__(
        self,
        base_url: str,
        api_version: str,
        access_token: str,
        app_secret: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: VendorSession | None = None,
    ):
        self.root = f"{base_url.rstrip('/')}/{api_version}"
        self.auth = {"access_token": access_token}
        if app_secret:
            self.auth["appsecret_proof"] = appsecret_proof(access_token, app_secret)
        self.sleep = sleep
        self.session = session or VendorSession("meta")

    def pages(self, path: str, params: Mapping[str, object]) -> Iterator[list[dict]]:
        body = self._get(path, f"{self.root}/{path}", {**params, **self.auth})
        yield body.get("data", [])
        guard = CursorGuard("meta", path)
        while next_url := body.get("paging", {}).get("next"):
            # `next` is a full URL that already carries every parameter, the token included.
            guard.follow(next_url)
            body = self._get(path, next_url, None)
            yield body.get("data", [])

    def call(self, method: str, path: str, data: Mapping[str, object] | None = None) -> dict:
        """One write (POST or DELETE) to `path` with form fields `data`; Meta's throttling waited out."""
        return self._request(method, path, f"{self.root}/{path}", dict(self.auth), {**(data or {})})

    def _get(self, path: str, url: str, params: Mapping | None) -> dict:
        return self._request("GET", path, url, params, None)

    def _request(self, method: str, path: str, url: str, params: Mapping | None, data: Mapping | None) -> dict:
        for attempt in range(MAX_THROTTLED_ATTEMPTS):
            response = self.session.request(method, url, params=params, data=data)
            try:
                body = response.json()
            except ValueError:
                body = {"error": {"message": response.text[:300]}}
            if response.status_code == 200 and not error_of(body):
                return body
            error = error_of(body)
            if is_throttled(error) and attempt + 1 < MAX_THROTTLED_ATTEMPTS:
                REQUEST_STATS.add("meta", "retries")
                REQUEST_STATS.add("meta", f"retries: throttled (code {error.get('code')})")
                policy = self.session.policy
                self.sleep(
                    throttle_wait_seconds(response.headers, attempt, policy.backoff_seconds, policy.max_wait_seconds)
                )
                continue
            if setting := configuration_problem(error, path):
                raise SourceConfigurationError(
                    f"Meta refused {path} (code {error.get('code')}: {error.get('message', '')}). Check {setting}."
                )
            # The path, never the URL: the URL carries the access token.
            raise MetaApiError(path, response.status_code, error)
        raise AssertionError("unreachable")
