"""`cdp sync`: the listing, pause and resume, and a clear refusal of an unknown name."""

from __future__ import annotations

from typer.testing import CliRunner

from cdp.cli import app

SYNC = "klaviyo_list__lifecycle_new"


def run(*args):
    return CliRunner().invoke(app, ["sync", *args])


def listed_state(output: str) -> str:
    [line] = [line for line in output.splitlines() if line.startswith(SYNC + " ")]
    return line.split()[2]


def test_a_paused_sync_is_listed_as_paused_until_resumed():
    assert listed_state(run().output) == "active"
    assert run(SYNC, "--pause").output.strip() == f"{SYNC} is paused."
    assert listed_state(run().output) == "paused"
    run(SYNC, "--resume")
    assert listed_state(run().output) == "active"


def test_an_unknown_sync_is_refused_with_the_names_there_are():
    result = run("klaviyo_list__nope", "--dry-run")
    assert result.exit_code != 0
    assert "No sync named 'klaviyo_list__nope'; the syncs are:" in result.output and SYNC in result.output
