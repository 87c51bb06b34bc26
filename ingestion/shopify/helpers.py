"""The Shopify Admin REST client: token, paging by the Link header, one refresh on an expired token.

The only module of the source that does I/O. Requests go through the shared vendor session
(ingestion/http.py): paced under Shopify's leaky bucket, retried on 429 and 5xx honouring Retry-After.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import requests
from dlt.common.time import ensure_pendulum_datetime

from ingestion.http import CursorGuard, SettingError, SourceConfigurationError, VendorSession
from ingestion.shopify.settings import MAX_PAGE_SIZE

CREDENTIAL_SETTINGS = (
    "sources.shopify.access_token, or sources.shopify.client_id and sources.shopify.client_secret"
)
# 403: the token is valid but lacks a scope; orders older than 60 days need read_all_orders.
REFUSED = {
    403: "the app's access scopes: read_customers, read_orders, read_all_orders (orders older than 60 days), "
    "read_products, read_checkouts"
}


# Shopify releases its Admin API quarterly (2025-01, -04, -07, -10) plus `unstable`; any other name is a 404.
API_VERSION_FORMAT = re.compile(r"\d{4}-(01|04|07|10)|unstable")
# What the source reads needs these; without read_all_orders Shopify silently returns only 60 days of orders.
REQUIRED_SCOPES = ("read_customers", "read_orders", "read_products", "read_checkouts")
HISTORY_SCOPE = "read_all_orders"


class ShopifyAuthError(SourceConfigurationError):
    """Shopify refused the credentials (never carries the token itself)."""


# -- settings, checked the same way by the source and `cdp sources check` -------------------------------------


def check_api_version(api_version: str) -> str:
    if not API_VERSION_FORMAT.fullmatch(str(api_version)):
        raise SettingError(
            f"sources.shopify.api_version must be a Shopify API release, YYYY-01, -04, -07 or -10 (e.g. 2025-07), "
            f"or unstable; got {api_version!r}"
        )
    return api_version


def check_page_size(page_size: int) -> int:
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise SettingError(f"sources.shopify.page_size must be between 1 and {MAX_PAGE_SIZE}, got {page_size}.")
    return page_size


def parse_start_date(start_date: str | None):
    """The first run's lower bound on `updated_at` (None: the shop's whole history)."""
    if not start_date:
        return None
    try:
        return ensure_pendulum_datetime(start_date)
    except (TypeError, ValueError):
        raise SettingError(
            f"sources.shopify.start_date must be an ISO 8601 date or date-time (e.g. 2024-01-01), got {start_date!r}"
        ) from None


def check_credentials(access_token: str | None, client_id: str | None, client_secret: str | None) -> None:
    if access_token or (client_id and client_secret):
        return
    if client_id or client_secret:
        missing = "sources.shopify.client_secret" if client_id else "sources.shopify.client_id"
        raise SettingError(
            f"{missing} is not set: the client-credentials grant needs both sources.shopify.client_id and "
            "sources.shopify.client_secret (or set sources.shopify.access_token)."
        )
    raise SettingError(
        "Shopify needs credentials: set sources.shopify.access_token, or sources.shopify.client_id and "
        "sources.shopify.client_secret (dlt secrets or SOURCES__SHOPIFY__... environment variables)."
    )


class ShopifyAdminClient:
    """Reads one shop. Give either a static `access_token` or an app's `client_id` + `client_secret`."""

    def __init__(
        self,
        base_url: str,
        api_version: str,
        access_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        session: VendorSession | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self._client_id, self._client_secret = client_id, client_secret
        self._token = access_token
        self._http = session or VendorSession("shopify", refused=REFUSED)
        # The scopes Shopify granted with the last issued token (None with a static token: Shopify does not say).
        self.granted_scopes: set[str] | None = None

    def pages(self, resource: str, params: dict[str, Any]) -> Iterator[list[dict]]:
        """Every page of `GET /admin/api/{version}/{resource}.json`, following `rel="next"` links.

        The next URL is used exactly as given: Shopify refuses any filter added beside `page_info`.
        """
        check_api_version(self.api_version)  # here, not when built: a wrong name would otherwise be a 404
        url: str | None = f"{self.base_url}/admin/api/{self.api_version}/{resource}.json"
        query: dict[str, Any] | None = params
        guard = CursorGuard("shopify", f"{resource}.json")
        while url:
            response = self._get(url, query)
            yield response.json()[resource]
            url, query = response.links.get("next", {}).get("url"), None
            if url:
                guard.follow(url)

    def count(self, resource: str, params: dict[str, Any] | None = None) -> int:
        """`GET /admin/api/{version}/{resource}/count.json` with the list filters in `params`."""
        check_api_version(self.api_version)
        url = f"{self.base_url}/admin/api/{self.api_version}/{resource}/count.json"
        return int(self._get(url, params or {}).json()["count"])

    def _get(self, url: str, params: dict[str, Any] | None):
        response = self._http.get(
            url, params=params, headers={"X-Shopify-Access-Token": self._current_token()}
        )
        if response.status_code == 401 and self._can_refresh():
            # An issued token expires (about 24 h): fetch a new one once, then give up if still refused.
            self._token = self._fetch_token()
            response = self._http.get(url, params=params, headers={"X-Shopify-Access-Token": self._token})
        if response.status_code == 401:
            raise ShopifyAuthError(
                f"Shopify refused the access token for {_path(url)} ({_errors(response)}). Check {CREDENTIAL_SETTINGS}."
            )
        if response.status_code >= 400:
            raise requests.HTTPError(
                f"Shopify answered {response.status_code} for {_path(url)}: {_errors(response)}",
                response=response,
            )
        return response

    def _current_token(self) -> str:
        # Checked at the first request, not when the source is built: the Dagster asset graph builds every
        # source to list its resources and must load before credentials are configured.
        check_credentials(self._token, self._client_id, self._client_secret)
        if not self._token:
            self._token = self._fetch_token()
        return self._token

    def _can_refresh(self) -> bool:
        return bool(self._client_id and self._client_secret)

    def _fetch_token(self) -> str:
        """The client-credentials grant of apps created since 2026."""
        response = self._http.post(
            f"{self.base_url}/admin/oauth/access_token",
            data={
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "grant_type": "client_credentials",
            },
        )
        if response.status_code == 404:
            # No shop (or no Shopify) at that address answers the grant: the address is what is wrong.
            raise SourceConfigurationError(
                f"Shopify answered 404 for the client-credentials grant at {_path(response.url or '')}. Check "
                "sources.shopify.base_url (https://{shop}.myshopify.com)."
            )
        if response.status_code != 200:
            raise ShopifyAuthError(
                f"Shopify refused the client-credentials grant ({response.status_code}: {_errors(response)}). "
                "Check sources.shopify.client_id and sources.shopify.client_secret."
            )
        answer = response.json()
        if isinstance(answer.get("scope"), str):
            self.granted_scopes = {scope.strip() for scope in answer["scope"].split(",") if scope.strip()}
        return answer["access_token"]


def with_parsed_cursor(record: dict) -> dict:
    """`updated_at` as an aware datetime, so the incremental cursor compares instants, not text offsets."""
    record["updated_at"] = ensure_pendulum_datetime(record["updated_at"])
    return record


def with_parent_ids(resource: str, record: dict) -> dict:
    """Give nested list items their parent's id, as Shopify's own single-item bodies carry it.

    dlt's child tables link rows to the parent only by its internal `_dlt_parent_id`; a real key lets the
    staging models stay renames and casts.
    """
    if resource == "orders":
        for item in record.get("line_items") or []:
            item.setdefault("order_id", record["id"])
        for refund in record.get("refunds") or []:
            refund.setdefault("order_id", record["id"])
            for child in (refund.get("refund_line_items") or []) + (refund.get("transactions") or []):
                child.setdefault("refund_id", refund["id"])
                child.setdefault("order_id", record["id"])
    elif resource == "products":
        for variant in record.get("variants") or []:
            variant.setdefault("product_id", record["id"])
    elif resource == "checkouts":
        for item in record.get("line_items") or []:
            item.setdefault("checkout_id", record["id"])
    return record


def _path(url: str) -> str:
    return url.split("?", 1)[0]


def _errors(response) -> str:
    try:
        return str(response.json().get("errors") or response.json())
    except ValueError:
        return response.text[:200]
