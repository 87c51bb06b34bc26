"""The `cdp` command line as a newcomer meets it first: `make demo` runs `cdp demo` with no options."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from cdp import paths
from cdp.cli import app


class SandboxReached(Exception):
    pass


def test_cdp_demo_with_no_options_generates_the_default_world_before_serving_it(monkeypatch):
    import sandbox.server

    def stop_at_the_sandbox(*args, **kwargs):
        raise SandboxReached

    # The world is what is checked here; the run after it is the whole-path tests' business.
    monkeypatch.setattr(sandbox.server, "sandbox_process", stop_at_the_sandbox)
    # A small world of 300 people: the same generator, in a second.
    monkeypatch.setattr("sandbox.world.config.SIZES", {"small": 300, "tiny": 300, "medium": 300, "large": 300})
    result = CliRunner().invoke(app, ["demo"])
    assert isinstance(result.exception, SandboxReached), result.output
    world = json.loads((paths.world_dir() / "world.json").read_text())
    assert (world["size"], world["shape"], world["seed"]) == ("small", "full", 7)
    assert world.get("conventions", "dev") == "dev"
