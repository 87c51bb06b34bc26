"""The marts tests read the tiny world after a full refresh, copied from the one the test run builds once."""

from tests.e2e.conftest import e2e_home, isolated_cdp_home, refreshed_home, refreshed_tiny_home  # noqa: F401
