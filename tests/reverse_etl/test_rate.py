"""One request budget per vendor account, shared by every sync in every process."""

from __future__ import annotations

from reverse_etl.rate import SharedRateBudget


class Clock:
    def __init__(self):
        self.now, self.slept = 1000.0, []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_two_syncs_to_one_account_share_its_budget(tmp_path):
    clock = Clock()
    first = SharedRateBudget("klaviyo-abc", rate=2.0, burst=2, folder=tmp_path, clock=clock.time, sleep=clock.sleep)
    second = SharedRateBudget("klaviyo-abc", rate=2.0, burst=2, folder=tmp_path, clock=clock.time, sleep=clock.sleep)
    first.wait()
    second.wait()  # the burst of two is spent by the two syncs together
    assert clock.slept == []
    first.wait()
    second.wait()
    assert clock.slept == [0.5, 0.5]  # each waits its turn at 2 requests per second


def test_another_account_has_its_own_budget(tmp_path):
    clock = Clock()
    one = SharedRateBudget("hubspot-1", rate=1.0, folder=tmp_path, clock=clock.time, sleep=clock.sleep)
    other = SharedRateBudget("hubspot-2", rate=1.0, folder=tmp_path, clock=clock.time, sleep=clock.sleep)
    one.wait()
    other.wait()
    assert clock.slept == []
