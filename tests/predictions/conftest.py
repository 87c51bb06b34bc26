"""The predictions tests that need a warehouse work on a copy of the tiny world after a full refresh."""

from tests.e2e.conftest import e2e_home, isolated_cdp_home, refreshed_home, refreshed_tiny_home  # noqa: F401
