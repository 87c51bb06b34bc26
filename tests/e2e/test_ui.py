"""`make ui` serves the same graph, and materializing everything from it succeeds.

Starts `dagster dev` (webserver + daemon) the way `cdp ui` does, then launches the `refresh` job through the
webserver's GraphQL API, as the UI's "Materialize all" button does, and waits for the run to succeed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from cdp import paths

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dagster_ui(sandbox_url):
    from orchestration.dbt import dbt_environment, prepare_manifest
    from orchestration.instance import ensure_dagster_home

    ensure_dagster_home()
    prepare_manifest()
    dbt_environment()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-w", str(paths.PROJECT_ROOT / "workspace.yaml"),
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=paths.PROJECT_ROOT,
        env=dict(os.environ),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "dagster dev exited before serving"
            time.sleep(1)
        else:
            pytest.fail("dagster dev did not serve within 180 s")
        yield port
    finally:
        # dagster dev ignores SIGTERM here (engineering.md, trap 12): SIGINT its group, then kill what lingers.
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_materializing_everything_from_the_ui_succeeds(dagster_ui):
    from dagster_graphql import DagsterGraphQLClient

    client = DagsterGraphQLClient("127.0.0.1", port_number=dagster_ui, timeout=60)
    deadline = time.monotonic() + 300  # the code location loads after the webserver answers; slow on 2 busy cores
    while True:
        try:
            run_id = client.submit_job_execution("refresh", repository_location_name="orchestration.definitions",
                                                 repository_name="__repository__")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = client.get_run_status(run_id).value
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(2)
    assert status == "SUCCESS", f"the run launched from the UI ended {status}"
