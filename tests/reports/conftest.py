"""The report tests share the end-to-end fixtures: one tiny world and its emulators per module."""

from tests.e2e.conftest import e2e_home, isolated_cdp_home, sandbox_url, tiny_world  # noqa: F401
