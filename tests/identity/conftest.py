"""The end-to-end fixtures (one tiny world per module, loaded through the whole graph) reused here."""

from tests.e2e.conftest import e2e_home, isolated_cdp_home, sandbox_url, tiny_world  # noqa: F401
