"""The shared HTTP layer: retries honour Retry-After and stay within the allowed wait, refused credentials
fail at once naming the setting, cursors cannot loop, pacing keeps to the vendor's rate, cut exports are
caught."""

from __future__ import annotations

import gzip

import pytest

from ingestion.http import (
    CursorGuard,
    HttpPolicy,
    Pacer,
    RepeatedCursorError,
    TransientError,
    VendorUnavailableError,
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
