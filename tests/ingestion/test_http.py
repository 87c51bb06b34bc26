"""The shared HTTP layer: retries honour Retry-After and stay within the allowed wait, refused credentials
fail at once naming the setting, cursors cannot loop, pacing keeps to the vendor's rate, cut exports are
caught."""

from __future__ import annotations

import gzip
import socket
from http.client import RemoteDisconnected

import pytest
import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, ProtocolError

from ingestion.http import (
    REQUEST_STATS,
    CursorGuard,
    HttpPolicy,
    Pacer,
    RepeatedCursorError,
    SettingError,
    TransientError,
    VendorSession,
    VendorUnavailableError,
    VendorUnreachableError,
    http_policy,
    retry_after_seconds,
    with_retries,
)
from ingestion.mixpanel.helpers import ExportCheck

FAST = HttpPolicy(max_attempts=4, backoff_seconds=0.5, max_wait_seconds=10)


def flaky(answers):
    """An attempt function failing with each given problem in turn, then returning "done"."""
    answers = list(answers)

    def attempt():
        if answers:
            raise answers.pop(0)
        return "done"

    return attempt


def test_retries_wait_as_long_as_the_vendor_asks_else_back_off():
    waits: list[float] = []
    result = with_retries(
        "shopify",
        FAST,
        "GET orders",
        flaky([TransientError("429", 2.0), TransientError("503")]),
        sleep=waits.append,
    )
    assert result == "done"
    assert waits[0] == 2.0 and 1.0 <= waits[1] <= 1.1  # the second is backoff: 0.5 * 2, plus jitter


def test_retries_stop_after_the_allowed_attempts_with_the_last_reason():
    with pytest.raises(VendorUnavailableError, match="failed 4 times, last with server error"):
        with_retries(
            "hubspot",
            FAST,
            "POST search",
            flaky([TransientError("server error (500)")] * 4),
            sleep=lambda _: None,
        )


def test_a_longer_retry_after_than_allowed_fails_instead_of_hammering():
    with pytest.raises(VendorUnavailableError, match="asks to wait 86400 s.*http_max_wait_seconds"):
        with_retries(
            "hubspot", FAST, "POST search", flaky([TransientError("daily", 86400.0)]), sleep=lambda _: None
        )


def test_retry_after_reads_seconds_and_dates():
    assert retry_after_seconds("2.0") == 2.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_settings_override_the_vendor_defaults(monkeypatch):
    monkeypatch.setenv("SOURCES__HTTP_TIMEOUT", "3")
    monkeypatch.setenv("SOURCES__SHOPIFY__HTTP_TIMEOUT", "7")
    assert http_policy("shopify").timeout == 7 and http_policy("hubspot").timeout == 3
    assert http_policy("shopify").requests_per_second == 1.9


def test_a_cursor_followed_too_often_stops_the_paging():
    guard = CursorGuard("klaviyo", "/api/profiles/", max_follows=3)
    for _ in range(3):
        guard.follow("https://a.klaviyo.com/api/profiles/?page[cursor]=abc")
    with pytest.raises(RepeatedCursorError, match="same paging cursor 3 times"):
        guard.follow("https://a.klaviyo.com/api/profiles/?page[cursor]=abc")


def test_pacing_allows_a_burst_then_the_sustained_rate():
    now = [0.0]
    waits: list[float] = []
    pacer = Pacer(rate=2.0, burst=3, clock=lambda: now[0], sleep=waits.append)
    for _ in range(5):
        pacer.wait()
    assert waits == [0.5, 1.0]


def test_an_export_cut_mid_gzip_member_is_caught():
    whole = gzip.compress(b'{"event": "a"}\n') + gzip.compress(b'{"event": "b"}\n')
    check = ExportCheck(gzipped=True)
    check.feed(whole)
    check.finish()
    cut = ExportCheck(gzipped=True)
    cut.feed(whole[: len(whole) - 5])
    with pytest.raises(TransientError, match="truncated gzip"):
        cut.finish()
    plain = ExportCheck(gzipped=False)
    plain.feed(b'{"event": "a"}\n{"eve')
    with pytest.raises(TransientError, match="last line incomplete"):
        plain.finish()


# -- a vendor that cannot be reached ------------------------------------------------------------------------

QUICK = HttpPolicy(max_attempts=6, backoff_seconds=0.01)


def closed_port() -> int:
    """A loopback port nothing listens on: bound for a moment by us, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def attempts_made(vendor: str, call) -> tuple[int, BaseException]:
    before = REQUEST_STATS.snapshot(vendor).get("requests", 0)
    with pytest.raises(Exception) as raised:
        call()
    return REQUEST_STATS.snapshot(vendor).get("requests", 0) - before, raised.value


def test_a_closed_port_stops_after_three_attempts_naming_the_host_and_the_base_url():
    port = closed_port()
    session = VendorSession("hubspot", QUICK)
    attempts, error = attempts_made("hubspot", lambda: session.get(f"http://127.0.0.1:{port}/hubspot/crm/v3/owners"))
    assert isinstance(error, VendorUnreachableError)
    assert attempts == 3  # not the 6 a throttled or failing vendor gets
    assert f"127.0.0.1:{port} (connection refused)" in str(error)
    assert "Check sources.hubspot.base_url." in str(error)


def test_an_unknown_host_stops_the_same_way_and_never_shows_the_token_in_the_query(no_dns_for_invalid):
    session = VendorSession("meta", QUICK)
    attempts, error = attempts_made(
        "meta", lambda: session.get("https://graph.example.invalid/v23.0/act_1/campaigns",
                                    params={"access_token": "EAAB-not-to-be-shown"})  # fmt: skip
    )
    assert isinstance(error, VendorUnreachableError) and attempts == 3
    assert "graph.example.invalid:443 (unknown host name)" in str(error)
    assert "sources.meta.base_url" in str(error) and "EAAB-not-to-be-shown" not in str(error)


def test_a_destination_session_names_its_own_base_url_setting():
    session = VendorSession("klaviyo", QUICK, base_url_setting="destinations.klaviyo.base_url")
    _, error = attempts_made("klaviyo", lambda: session.get(f"http://127.0.0.1:{closed_port()}/api/lists/"))
    assert "Check destinations.klaviyo.base_url." in str(error)


def counting(exc: BaseException):
    calls = []

    def attempt():
        calls.append(1)
        raise exc

    return attempt, calls


def test_timeouts_and_dropped_connections_still_get_every_allowed_attempt():
    connect_timeout = requests.ConnectTimeout(
        MaxRetryError(None, "/crm/v3/owners", ConnectTimeoutError("Connection to api.hubapi.com timed out."))
    )
    dropped = requests.ConnectionError(ProtocolError("Connection aborted.", RemoteDisconnected("closed")))
    for problem in (connect_timeout, dropped, requests.ReadTimeout("Read timed out.")):
        attempt, calls = counting(problem)
        with pytest.raises(VendorUnavailableError) as raised:
            with_retries("hubspot", FAST, "GET /crm/v3/owners", attempt, sleep=lambda _: None)
        assert len(calls) == FAST.max_attempts and not isinstance(raised.value, VendorUnreachableError)
        assert "Raise sources.hubspot.http_max_attempts" in str(raised.value)


def test_the_last_reason_of_a_failed_request_shows_no_query_and_no_word_cut_in_half():
    long_path = "/api/2.0/export?project_id=1&secret=hush" + "&x=" + "y" * 300
    dropped = requests.ConnectionError(
        MaxRetryError(None, long_path, ProtocolError("Connection aborted. " + "word " * 80))
    )
    attempt, _ = counting(dropped)
    with pytest.raises(VendorUnavailableError) as raised:
        with_retries("mixpanel", FAST, "GET /api/2.0/export", attempt, sleep=lambda _: None)
    reason = str(raised.value).split("last with ", 1)[1].split(". Raise", 1)[0]
    assert "hush" not in reason and "?" not in reason
    assert reason.endswith("word ...")


@pytest.mark.parametrize("url", ["a.klaviyo.com/api/lists/", "localhost:8790/klaviyo/api/lists/",
                                 "ftp://a.klaviyo.com/api/lists/", "https:///api/lists/"])  # fmt: skip
def test_a_base_url_that_is_no_url_names_the_setting_before_any_request(url):
    session = VendorSession("klaviyo", QUICK)
    attempts, error = attempts_made("klaviyo", lambda: session.get(url))
    assert isinstance(error, SettingError) and attempts == 0
    assert f"{url!r} is not an http(s) URL" in str(error)
    assert "Check sources.klaviyo.base_url: the scheme and host, e.g. https://a.klaviyo.com." in str(error)


@pytest.mark.parametrize("value", ["many", "0"])
def test_an_http_setting_that_cannot_work_is_named(monkeypatch, value):
    monkeypatch.setenv("SOURCES__HUBSPOT__HTTP_MAX_ATTEMPTS", value)
    with pytest.raises(SettingError, match="sources.hubspot.http_max_attempts must be"):
        http_policy("hubspot")


def test_an_ingest_against_a_closed_port_stops_at_its_first_request(monkeypatch):
    from ingestion.pipeline import run_source

    port = closed_port()
    monkeypatch.setenv("SOURCES__HUBSPOT__BASE_URL", f"http://127.0.0.1:{port}/hubspot")
    monkeypatch.setenv("SOURCES__HUBSPOT__ACCESS_TOKEN", "a-token")
    monkeypatch.setenv("SOURCES__HUBSPOT__HTTP_BACKOFF_SECONDS", "0.01")
    attempts, error = attempts_made("hubspot", lambda: run_source("hubspot"))
    assert isinstance(error, VendorUnreachableError)
    assert f"127.0.0.1:{port} (connection refused)" in str(error) and "sources.hubspot.base_url" in str(error)
    assert attempts == 3  # one request of the first resource; the others are not tried
