"""The predictions tests that need a warehouse share the end-to-end fixtures: one tiny world per module."""

from tests.e2e.conftest import e2e_home, isolated_cdp_home, sandbox_url, tiny_world  # noqa: F401
