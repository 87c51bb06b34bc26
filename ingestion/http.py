"""The one HTTP client setup every source uses.

What a source gets from `vendor_session(vendor, ...)`, a `requests.Session` that dlt's RESTClient and the
hand-written clients share:
- a timeout on every request (connect and between bytes), so a stalled vendor never hangs a run;
- retries with exponential backoff on 429, 5xx, timeouts, dropped connections and truncated JSON bodies,
  honouring Retry-After; a vendor asking for a longer wait than `http_max_wait_seconds` fails the run
  with that number rather than being hammered early;
- pacing under the vendor's documented rate (`requests_per_second`), shared by every session of the vendor
  in the process, so a healthy run rarely meets a 429 at all;
- fail-fast on refused credentials: no retry, and an error that names the setting to fix;
- fail-fast on a host that cannot be reached at all (connection refused, unknown host name, no route): a few
  quick attempts, then an error naming the host and `sources.<vendor>.base_url` (retrying a wrong address for
  minutes would only hide the setting to fix); a base URL that is no URL fails before any request;
- counts of requests and retries per vendor (`REQUEST_STATS`), which the Dagster assets report.

Every number is a setting: `sources.<vendor>.http_timeout`, `http_max_attempts`, `http_backoff_seconds`,
`http_max_wait_seconds`, `requests_per_second` (dlt config or `SOURCES__<VENDOR>__...` environment
variables), falling back to `sources.<setting>` for all vendors, then to the vendor's defaults below.
Tests turn timeouts and waits down to fractions of a second, so fault tests run in seconds.
"""

from __future__ import annotations

import errno
import json
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from email.utils import parsedate_to_datetime
from typing import TypeVar
from urllib.parse import urlsplit

import dlt
import requests
from dlt.sources.helpers.rest_client.paginators import JSONLinkPaginator, JSONResponseCursorPaginator
from requests.exceptions import (
    ChunkedEncodingError,
    ConnectionError,
    InvalidSchema,
    InvalidURL,
    MissingSchema,
    Timeout,
)
from urllib3.exceptions import NameResolutionError, NewConnectionError

T = TypeVar("T")


# -- errors a run can end with ---------------------------------------------------------------------------


class SourceConfigurationError(RuntimeError):
    """The vendor refused what is configured (credentials, account, project): retrying cannot help."""


class VendorUnavailableError(RuntimeError):
    """The vendor kept failing (or asked for a longer pause than allowed) after every allowed attempt."""


class SettingError(SourceConfigurationError, ValueError):
    """A setting's value cannot work, found before (or instead of) asking the vendor; the message names the
    setting. A ValueError too, as the sources raised for a bad value before it existed."""


class VendorUnreachableError(SourceConfigurationError, VendorUnavailableError):
    """No connection could be opened to the vendor's host (refused, unknown name, no route): most often a wrong
    base URL, so a run stops at once like any configuration error; callers that treat an unavailable vendor as
    a failed batch still catch it as one."""


class SchemaDriftError(RuntimeError):
    """A record no longer fits the table's frozen contract; the message names table, column and what to do."""


class TransientError(Exception):
    """One failed attempt worth repeating; `wait` is the vendor's Retry-After in seconds when it gave one."""

    def __init__(self, reason: str, wait: float | None = None):
        super().__init__(reason)
        self.reason, self.wait = reason, wait


# -- settings ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpPolicy:
    timeout: float = 60.0
    max_attempts: int = 6
    backoff_seconds: float = 1.0
    max_wait_seconds: float = 300.0
    requests_per_second: float = 0.0  # 0: no client-side pacing
    burst: float = 1.0  # requests allowed back to back before the pacing starts

    def backoff(self, attempt: int) -> float:
        """The wait before attempt `attempt + 1` when the vendor named none: doubling, with a little jitter
        so parallel clients do not retry in lockstep."""
        return self.backoff_seconds * 2 ** (attempt - 1) * (1 + random.random() / 10)


# Each vendor's documented allowance, kept a little under so a healthy run meets no throttling:
# HubSpot search 5/s (the source's main call); Shopify's bucket of 40 leaking 2/s; Mixpanel's export 3/s
# (and 60/h, which 30-day export windows stay far from); Klaviyo 10/s, under the profiles and events
# endpoints' steady limits (12.5/s and 58/s; campaigns and metrics allow 2.5/s but take a handful of calls).
# Meta's limits are a usage score, not a rate: its client is not paced and waits out throttling codes
# (30 s doubling when Meta gives no estimate, at most an hour).
VENDOR_DEFAULTS: dict[str, HttpPolicy] = {
    "hubspot": HttpPolicy(requests_per_second=4.0, burst=4),
    "shopify": HttpPolicy(requests_per_second=1.9, burst=38),
    "mixpanel": HttpPolicy(requests_per_second=2.0, burst=2, timeout=300.0),
    "klaviyo": HttpPolicy(requests_per_second=10.0, burst=10),
    "meta": HttpPolicy(backoff_seconds=30.0, max_wait_seconds=3600.0),
}

_SETTINGS = {
    "timeout": "http_timeout",
    "max_attempts": "http_max_attempts",
    "backoff_seconds": "http_backoff_seconds",
    "max_wait_seconds": "http_max_wait_seconds",
    "requests_per_second": "requests_per_second",
    "burst": "requests_burst",
}


# The smallest value each setting can work with: no attempt at all, or a zero timeout, fails every request.
_MINIMUMS = {"max_attempts": (1, "at least 1"), "timeout": (1e-3, "more than 0")}


def http_policy(vendor: str) -> HttpPolicy:
    """The vendor's policy with any configured override applied (read when a source is built)."""
    policy = VENDOR_DEFAULTS.get(vendor, HttpPolicy())
    overrides = {}
    for field_name, setting in _SETTINGS.items():
        key = f"sources.{vendor}.{setting}"
        value = dlt.config.get(key)
        if value is None:
            key = f"sources.{setting}"
            value = dlt.config.get(key)
        if value is not None:
            kind = int if field_name == "max_attempts" else float
            try:
                number = kind(value)
            except (TypeError, ValueError):
                raise SettingError(f"{key} must be a number, got {value!r}") from None
            least, wording = _MINIMUMS.get(field_name, (0, "0 or more"))
            if number < least:
                raise SettingError(f"{key} must be {wording}, got {value!r}")
            overrides[field_name] = number
    return replace(policy, **overrides)


# -- request counts ----------------------------------------------------------------------------------------


class RequestStats:
    """Requests, retries and retry reasons per vendor, for the run's metadata."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, vendor: str, what: str, n: int = 1) -> None:
        with self._lock:
            self._counts[(vendor, what)] += n

    def snapshot(self, vendor: str) -> dict[str, int]:
        with self._lock:
            return {what: n for (v, what), n in self._counts.items() if v == vendor}


REQUEST_STATS = RequestStats()


def stats_delta(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}


# -- pacing ------------------------------------------------------------------------------------------------


class Pacer:
    """A client-side token bucket: bursts of up to `burst` requests, `rate` per second sustained, shared by
    the threads of a process. Mirrors the vendors' own buckets, so a healthy run is never throttled."""

    def __init__(self, rate: float, burst: float = 1.0, clock: Callable[[], float] = time.monotonic, sleep=time.sleep):
        self.rate, self.burst = rate, max(1.0, burst)
        self._tokens, self._at = self.burst, clock()
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def wait(self) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            # Take the token now (possibly going negative): the debt is the time this caller must wait.
            self._tokens -= 1
            delay = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if delay:
            self._sleep(delay)


_pacers: dict[tuple[str, float, float], Pacer] = {}
_pacers_lock = threading.Lock()


def pacer_for(vendor: str, rate: float, burst: float) -> Pacer:
    with _pacers_lock:
        return _pacers.setdefault((vendor, rate, burst), Pacer(rate, burst))


# -- pure helpers ------------------------------------------------------------------------------------------


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: a number (Shopify sends `2.0`) or an HTTP date; None when absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def is_json_response(response: requests.Response) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    return "json" in content_type


def default_problem(response: requests.Response) -> TransientError | None:
    """Whether an answer is worth repeating: throttled, a server failure, or a JSON body cut short."""
    if response.status_code == 429:
        return TransientError("throttled (429)", retry_after_seconds(response.headers.get("Retry-After")))
    if response.status_code >= 500:
        return TransientError(
            f"server error ({response.status_code})", retry_after_seconds(response.headers.get("Retry-After"))
        )
    if 200 <= response.status_code < 300 and is_json_response(response):
        try:
            json.loads(response.content)
        except ValueError:
            return TransientError("truncated JSON body")
    return None


def path_of(url: str) -> str:
    """The URL without its query: what errors may show (queries can carry tokens)."""
    return url.split("?", 1)[0]


def host_of(url: str) -> str:
    """`host:port` of a URL (never its user, password, path or query), or the text itself when no URL."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return path_of(url).rsplit("@", 1)[-1]
    if not host:
        return path_of(url).rsplit("@", 1)[-1]
    return f"{host}:{port or (443 if parts.scheme == 'https' else 80)}"


def _causes(exc: BaseException):
    """The exception and everything it wraps: requests' errors carry urllib3's, which carry the socket's."""
    seen, pending = set(), [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending += [e for e in linked if isinstance(e, BaseException)]


_NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH}


def unreachable_reason(exc: BaseException) -> str | None:
    """Why no connection could be opened at all (refused, unknown host name, no route), or None.

    Timeouts are not in it (a slow or busy vendor is retried as usual), nor are connections that opened and
    then dropped (a vendor restarting mid-answer)."""
    if isinstance(exc, Timeout):
        return None
    causes = list(_causes(exc))
    if not any(isinstance(cause, NewConnectionError) for cause in causes):
        return None
    for cause in causes:
        if isinstance(cause, (NameResolutionError, socket.gaierror)):
            return "unknown host name"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, OSError) and cause.errno in _NO_ROUTE:
            return "no route to host"
    return None


_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>: |\bHTTPS?Connection\(host='[^']*', port=\d+\): ")
_QUERY = re.compile(r"\?[^\s'\")]*")
_USERINFO = re.compile(r"//[^/@]*@")
# What a well-formed base URL looks like, for the message about one that is not.
_EXAMPLE_URLS = {
    "hubspot": "https://api.hubapi.com",
    "shopify": "https://{shop}.myshopify.com",
    "mixpanel": "https://data.mixpanel.com",
    "klaviyo": "https://a.klaviyo.com",
    "meta": "https://graph.facebook.com",
}


def network_problem(exc: BaseException, limit: int = 240) -> str:
    """A failed request in a line: the exception's type and message, without queries (they can carry
    tokens) or object addresses, shortened at a word boundary."""
    text = _QUERY.sub("", _OBJECT_REPR.sub("", str(exc)))
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " ..."
    return f"{type(exc).__name__}: {text}"


# -- the retry loop and the session -------------------------------------------------------------------------


# A host that refuses connections or has no address is tried this often, at most this long apart: enough to
# ride out a vendor's host restarting or a resolver's blip, short enough to point at the base URL in seconds.
UNREACHABLE_ATTEMPTS = 3
UNREACHABLE_MAX_WAIT_SECONDS = 2.0


def with_retries(
    vendor: str,
    policy: HttpPolicy,
    what: str,
    attempt_once: Callable[[], T],
    sleep=time.sleep,
    *,
    base_url_setting: str | None = None,
) -> T:
    """Run `attempt_once` until it returns, retrying on TransientError and network failures.

    A host that cannot be reached at all gets UNREACHABLE_ATTEMPTS, then VendorUnreachableError naming the
    host and `base_url_setting` (default `sources.<vendor>.base_url`)."""
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return attempt_once()
        except (ConnectionError, Timeout, ChunkedEncodingError) as exc:
            unreachable = unreachable_reason(exc)
            if unreachable:
                if attempt >= min(policy.max_attempts, UNREACHABLE_ATTEMPTS):
                    host = host_of(exc.request.url) if getattr(exc, "request", None) is not None else "its host"
                    raise VendorUnreachableError(
                        f"{vendor}: cannot connect to {host} ({unreachable}) for {what}, "
                        f"{attempt} attempt{'s' if attempt > 1 else ''}. "
                        f"Check {base_url_setting or f'sources.{vendor}.base_url'}."
                    ) from None
                REQUEST_STATS.add(vendor, "retries")
                REQUEST_STATS.add(vendor, f"retries: {unreachable}")
                sleep(min(policy.backoff(attempt), UNREACHABLE_MAX_WAIT_SECONDS))
                continue
            problem = TransientError(network_problem(exc))
        except TransientError as exc:
            problem = exc
        if attempt == policy.max_attempts:
            raise VendorUnavailableError(
                f"{vendor}: {what} failed {attempt} times, last with {problem.reason}. "
                f"Raise sources.{vendor}.http_max_attempts or try again later."
            )
        wait = problem.wait if problem.wait is not None else policy.backoff(attempt)
        if wait > policy.max_wait_seconds:
            raise VendorUnavailableError(
                f"{vendor}: {what} was refused ({problem.reason}) and the vendor asks to wait {wait:.0f} s, "
                f"more than sources.{vendor}.http_max_wait_seconds ({policy.max_wait_seconds:.0f} s)."
            )
        REQUEST_STATS.add(vendor, "retries")
        REQUEST_STATS.add(vendor, f"retries: {problem.reason.split(':')[0]}")
        sleep(wait)
    raise AssertionError("unreachable")


Classifier = Callable[[requests.Response], TransientError | None]


class VendorSession(requests.Session):
    """A requests session with the vendor's timeout, retries, pacing and fail-fast refusals.

    refused: status -> what to check, for answers that mean the configuration is wrong (e.g.
    `{401: "sources.hubspot.access_token"}`); such an answer raises SourceConfigurationError at once.
    classify: the vendor's own test for a retryable answer (Meta throttles with HTTP 400 and a code).
    """

    def __init__(
        self,
        vendor: str,
        policy: HttpPolicy | None = None,
        refused: Mapping[int, str] | None = None,
        classify: Classifier = default_problem,
        describe_error: Callable[[requests.Response], str] | None = None,
        pacer: Pacer | None = None,
        base_url_setting: str | None = None,
    ):
        super().__init__()
        self.vendor = vendor
        # What an unreachable host or a malformed URL tells the user to check (a destination passes its own).
        self.base_url_setting = base_url_setting or f"sources.{vendor}.base_url"
        self.policy = policy or http_policy(vendor)
        self.refused = dict(refused or {})
        self.classify = classify
        self.describe_error = describe_error or error_text
        # A caller may share a pacer beyond this process (the syncs' budget per vendor account).
        self._pacer = pacer or pacer_for(vendor, self.policy.requests_per_second, self.policy.burst)

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        try:
            return super().prepare_request(request)
        except (MissingSchema, InvalidSchema, InvalidURL) as exc:
            raise self._not_a_url(request.url or "", exc) from None

    def _not_a_url(self, url: str, exc: Exception) -> SettingError:
        shown = _USERINFO.sub("//", path_of(url))
        return SettingError(
            f"{self.vendor}: {shown!r} is not an http(s) URL ({type(exc).__name__}). "
            f"Check {self.base_url_setting}: the scheme and host, e.g. "
            f"{_EXAMPLE_URLS.get(self.vendor, 'https://api.example.com')}."
        )

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        kwargs["timeout"] = kwargs.get("timeout") or self.policy.timeout
        what = f"{request.method} {path_of(request.url or '')}"
        try:
            self.get_adapter(request.url or "")
        except InvalidSchema as exc:  # a scheme no adapter serves, e.g. ftp:// or a host with no scheme
            raise self._not_a_url(request.url or "", exc) from None

        def attempt_once() -> requests.Response:
            self._pacer.wait()
            REQUEST_STATS.add(self.vendor, "requests")
            try:
                response = super(VendorSession, self).send(request, **kwargs)
            except requests.HTTPError as raised:
                # dlt's RESTClient raises from a response hook inside send: judge the answer all the same.
                if raised.response is None:
                    raise
                response = raised.response
                self._judge(response, what)
                raise
            self._judge(response, what)
            return response

        return with_retries(self.vendor, self.policy, what, attempt_once, base_url_setting=self.base_url_setting)

    def _judge(self, response: requests.Response, what: str) -> None:
        if response.status_code in self.refused:
            raise SourceConfigurationError(
                f"{self.vendor} refused {what} with HTTP {response.status_code} "
                f"({self.describe_error(response)}). Check {self.refused[response.status_code]}."
            )
        problem = self.classify(response)
        if problem is not None:
            response.close()
            raise problem


def error_text(response: requests.Response) -> str:
    """A short description of an error answer, never the request URL (it may carry a token)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or "no body"
    if isinstance(body, dict):
        for key in ("message", "errors", "error", "detail"):
            if body.get(key):
                value = body[key]
                if isinstance(value, dict):
                    value = value.get("message") or value
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    value = value[0].get("detail") or value[0]
                return str(value)[:300]
    return str(body)[:300]


def vendor_session(vendor: str, **kwargs) -> VendorSession:
    return VendorSession(vendor, **kwargs)


# -- paging that cannot loop --------------------------------------------------------------------------------


class RepeatedCursorError(VendorUnavailableError):
    """The vendor kept answering with a cursor already followed: stop instead of looping for ever."""


class CursorGuard:
    """Follows a cursor at most `max_follows` times in one paging sequence.

    A vendor glitch that hands back the cursor just used once is survived (the page is asked for again and
    the merge on primary keys absorbs the repeated rows); a vendor stuck on one cursor fails the run.
    """

    def __init__(self, vendor: str, what: str, max_follows: int = 3):
        self.vendor, self.what, self.max_follows = vendor, what, max_follows
        self._follows: Counter[str] = Counter()

    def follow(self, cursor: object) -> None:
        key = str(cursor)
        self._follows[key] += 1
        if self._follows[key] > 1:
            REQUEST_STATS.add(self.vendor, "repeated cursors")
        if self._follows[key] > self.max_follows:
            raise RepeatedCursorError(
                f"{self.vendor}: {self.what} answered with the same paging cursor {self.max_follows} times; "
                "stopping rather than looping. The rows read so far are not lost: a rerun resumes from the "
                "last committed cursor."
            )


class _GuardedPaging:
    """Mixin for dlt paginators: every next reference passes a CursorGuard. dlt deep-copies a paginator for
    each paging sequence, so each sequence gets a fresh guard."""

    vendor = "vendor"

    def update_state(self, response, data=None):
        super().update_state(response, data)
        if self.has_next_page:
            if not hasattr(self, "_guard"):
                self._guard = CursorGuard(self.vendor, path_of(response.request.url or ""))
            self._guard.follow(self._next_reference)


class GuardedLinkPaginator(_GuardedPaging, JSONLinkPaginator):
    def __init__(self, vendor: str, next_url_path: str):
        super().__init__(next_url_path=next_url_path)
        self.vendor = vendor


class GuardedCursorPaginator(_GuardedPaging, JSONResponseCursorPaginator):
    def __init__(self, vendor: str, cursor_path: str, cursor_param: str):
        super().__init__(cursor_path=cursor_path, cursor_param=cursor_param)
        self.vendor = vendor
