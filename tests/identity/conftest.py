"""The end-to-end fixtures (one tiny world per module, loaded through the whole graph) reused here."""

from tests.e2e.conftest import (  # noqa: F401
    e2e_home,
    isolated_cdp_home,
    refreshed_home,
    refreshed_tiny_home,
    sandbox_url,
    tiny_world,
)
