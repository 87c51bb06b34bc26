"""dbt project tests that need a built warehouse read a copy of the tiny world's one full refresh."""

from tests.e2e.conftest import e2e_home, refreshed_home, refreshed_tiny_home  # noqa: F401
