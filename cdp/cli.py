"""The `cdp` command line. Heavy imports (dagster, dlt, the world generator) happen inside the commands."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import typer

from cdp import paths

app = typer.Typer(no_args_is_help=True, add_completion=False, help="An open, warehouse-native CDP.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The embedded default: a synthetic world and its vendor APIs.")
app.add_typer(sandbox_app, name="sandbox")


def _world() -> dict:
    world_json = paths.world_dir() / "world.json"
    if not world_json.exists():
        raise typer.BadParameter(
            f"No sandbox world at {paths.world_dir()}. Create one with `cdp sandbox generate` (or `make demo`)."
        )
    return json.loads(world_json.read_text())


def _use_sandbox(base_url: str) -> None:
    """Point every dlt source at the running sandbox, with the world's credentials."""
    from sandbox.credentials import dlt_environment

    os.environ.update(dlt_environment(_world(), base_url))


# -- sandbox ---------------------------------------------------------------------------------------------------
@sandbox_app.command("generate")
def sandbox_generate(
    size: str = typer.Option("small", help="tiny, small (demo), medium (100k people) or large (1M people)."),
    seed: int = typer.Option(7, help="The development seed is 7; any other gives a fresh world."),
    force: bool = typer.Option(False, help="Replace an existing world (its warehouse is NOT wiped: see `cdp reset`)."),
    shape: str = typer.Option("full", help="The account the world is rendered as: full, new_business, sparse or "
                              "customised (sandbox/world/shapes.py)."),
    conventions: str = typer.Option("dev", help="How people write themselves down and share: dev (the "
                                    "development world) or alt (other name, email, country and household "
                                    "conventions; sandbox/world/config.py)."),
) -> None:
    """Generate a world into $CDP_HOME/sandbox (skipped when one exists, unless --force)."""
    from sandbox.world.config import conventions_for, people_for
    from sandbox.world.generate import generate_world
    from sandbox.world.shapes import check_shape

    # Refused before anything is deleted: a wrong argument must not cost the world that exists.
    try:
        people_for(size)
        check_shape(shape)
        conventions_for(conventions)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    if (paths.world_dir() / "world.json").exists() and not force:
        world = _world()
        typer.echo(f"World exists ({world['size']}, {world.get('shape', 'full')} account, seed {world['seed']}, "
                   f"as of {world['as_of']}); kept.")
        return
    if paths.world_dir().exists():
        shutil.rmtree(paths.sandbox_dir())
    started = time.monotonic()
    # The world sets the world clock ($CDP_HOME/clock.json) itself, here and in `advance`.
    world = generate_world(paths.world_dir(), size=size, seed=seed, shape=shape, conventions=conventions)
    typer.echo(f"Generated the {size} world ({shape} account, {conventions} conventions, seed {seed}) in {time.monotonic() - started:.1f} s, "
               f"as of {world['as_of']}.")


@sandbox_app.command("advance")
def sandbox_advance(days: int = typer.Option(1, min=1, help="Whole days to move the world clock forward.")) -> None:
    """Move the world forward: new people, orders and events, updated records, late events delivered."""
    from sandbox.world.advance import advance_world

    _world()
    summary = advance_world(paths.world_dir(), days)
    world = _world()
    typer.echo(f"The world is now as of {world['as_of']}.")
    typer.echo(json.dumps(summary, indent=2, default=str))


@sandbox_app.command("serve")
def sandbox_serve(port: int = typer.Option(None, help="Default 8790 or $CDP_SANDBOX_PORT.")) -> None:
    """Serve the vendor emulators on 127.0.0.1 until interrupted."""
    from sandbox.server import sandbox_port, serve

    _world()
    typer.echo(f"Sandbox vendors on http://127.0.0.1:{port or sandbox_port()} (Ctrl-C stops).")
    serve(paths.world_dir(), port=port)


@sandbox_app.command("stats")
def sandbox_stats() -> None:
    """The world's dirt and behaviour rates next to the rates the brief names."""
    from cdp.report import print_world_stats

    _world()
    print_world_stats(paths.world_dir())


# -- pipeline --------------------------------------------------------------------------------------------------
@app.command("ingest")
def ingest(
    sources: list[str] = typer.Argument(None, help="Sources to load (default: all)."),
    sandbox: bool = typer.Option(True, help="--no-sandbox reads the vendors configured in .dlt/ instead."),
) -> None:
    """Load sources into the warehouse with dlt alone (no Dagster)."""
    from ingestion.pipeline import SOURCE_NAMES, run_source
    from sandbox.server import sandbox_process

    names = sources or list(SOURCE_NAMES)
    if not sandbox:
        for name in names:
            typer.echo(run_source(name))
        return
    with sandbox_process(paths.world_dir()) as base_url:
        _use_sandbox(base_url)
        for name in names:
            typer.echo(run_source(name))


@app.command("materialize")
def materialize(
    select: list[str] = typer.Option(None, help="Dagster asset selection (default: everything)."),
    sandbox: bool = typer.Option(True, help="--no-sandbox reads the vendors configured in .dlt/ instead."),
) -> None:
    """Materialize the asset graph in this process, recorded in the instance the UI shows."""
    from sandbox.server import sandbox_process

    if not sandbox:
        _materialize(select)
        return
    with sandbox_process(paths.world_dir()) as base_url:
        _use_sandbox(base_url)
        _materialize(select)


def _materialize(select: list[str] | None, tags: dict[str, str] | None = None) -> None:
    from orchestration.run import materialize as run

    result = run(select, tags)
    if not result.success:
        from orchestration.run import failure_summary

        for line in failure_summary(result):
            typer.echo(line, err=True)
        typer.echo("The whole run is in the Dagster UI (`make ui`), under Runs.", err=True)
        raise typer.Exit(1)


@app.command("demo")
def demo(
    size: str = typer.Option("small", help="World size when none exists yet."),
    seed: int = typer.Option(7, help="World seed when none exists yet."),
    shape: str = typer.Option("full", help="World account shape when none exists yet (see `sandbox generate`)."),
    conventions: str = typer.Option("dev", help="World conventions when none exists yet (see `sandbox generate`)."),
) -> None:
    """The whole path: world, sandbox, ingestion, models; then a summary of what happened."""
    from cdp.report import print_demo_summary
    from sandbox.server import sandbox_process

    started = time.monotonic()
    # Every option given: called as a function, typer's defaults would arrive as their OptionInfo objects.
    sandbox_generate(size=size, seed=seed, force=False, shape=shape, conventions=conventions)
    with sandbox_process(paths.world_dir()) as base_url:
        _use_sandbox(base_url)
        _materialize(None)
        print_demo_summary(base_url)
    typer.echo(f"\nDemo finished in {time.monotonic() - started:.0f} s. `make ui` shows the same graph and runs.")


@app.command("ui")
def ui() -> None:
    """The sandbox plus the Dagster UI (webserver and daemon) on the same data, until Ctrl-C."""
    from orchestration.dbt import dbt_environment, prepare_manifest
    from orchestration.instance import ensure_dagster_home
    from sandbox.server import sandbox_process

    ensure_dagster_home()
    prepare_manifest()
    dbt_environment()
    with sandbox_process(paths.world_dir()) as base_url:
        _use_sandbox(base_url)
        # `dagster dev` does not stop on SIGTERM (engineering.md, trap 12): it runs in its own process group,
        # which gets SIGINT, and the whole group is killed if it lingers.
        proc = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-w", str(paths.PROJECT_ROOT / "workspace.yaml"),
             "--host", "127.0.0.1", "--port", os.environ.get("CDP_UI_PORT", "3000")],
            cwd=paths.PROJECT_ROOT,
            start_new_session=True,
        )
        try:
            proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@app.command("reset")
def reset(yes: bool = typer.Option(False, "--yes", help="Do not ask.")) -> None:
    """Wipe $CDP_HOME: world, warehouse, pipeline state, Dagster runs and the sandbox's destination state."""
    home = paths.cdp_home()
    if not home.exists():
        typer.echo(f"Nothing to reset: {home} does not exist.")
        return
    if not yes:
        typer.confirm(f"Delete everything under {home}?", abort=True)
    shutil.rmtree(home)
    typer.echo(f"Removed {home}.")


# -- identity --------------------------------------------------------------------------------------------------
identity_app = typer.Typer(no_args_is_help=True, help="Identity resolution: why records are together, how well.")
app.add_typer(identity_app, name="identity")


@identity_app.command("explain")
def identity_explain(identifier: str = typer.Argument(..., help="<type>:<value>, e.g. email:jo@example.com")) -> None:
    """The profile holding an identifier, its identifiers and the chain of links that joined its records."""
    from cdp.identity.explain import explain
    from cdp.warehouse import WarehouseNotPublished, read_connection

    try:
        con = read_connection()
    except WarehouseNotPublished as missing:
        raise typer.BadParameter(str(missing)) from None
    try:
        for line in explain(con, identifier):
            typer.echo(line)
    except ValueError as bad:
        raise typer.BadParameter(str(bad)) from None
    finally:
        con.close()


@identity_app.command("score")
def identity_score() -> None:
    """Pairwise precision, recall and F1 against the sandbox's ground truth (sandbox only)."""
    from cdp.identity.score import score
    from cdp.warehouse import WarehouseNotPublished, read_connection

    try:
        con = read_connection()
    except WarehouseNotPublished as missing:
        raise typer.BadParameter(str(missing)) from None
    try:
        for line in score(con, paths.sandbox_dir()).lines():
            typer.echo(line)
    except FileNotFoundError as missing:
        raise typer.BadParameter(str(missing)) from None
    finally:
        con.close()


# -- segments --------------------------------------------------------------------------------------------------
segments_app = typer.Typer(no_args_is_help=True, help="Segments: how well the lifecycle rules find true churn.")
app.add_typer(segments_app, name="segments")


@segments_app.command("score")
def segments_score(
    window_days: int = typer.Option(90, min=1, help="Horizon of the true churn probability compared."),
) -> None:
    """Lifecycle churn vs the world's true dropout, beside a fixed 365-day rule (sandbox only)."""
    import duckdb

    from cdp.clock import as_of
    from cdp.segments.score import score_churn
    from cdp.warehouse import WarehouseNotPublished, read_connection

    try:
        con = read_connection()
    except WarehouseNotPublished as missing:
        raise typer.BadParameter(str(missing)) from None
    try:
        for line in score_churn(con, paths.sandbox_dir(), as_of(), window_days).lines():
            typer.echo(line)
    except FileNotFoundError as missing:
        raise typer.BadParameter(f"{missing} (the truth files exist only for a sandbox world)") from None
    except duckdb.CatalogException:
        raise typer.BadParameter(
            "The published warehouse has no segments yet: run `cdp materialize` (or `make demo`) first."
        ) from None
    finally:
        con.close()


# -- syncs -----------------------------------------------------------------------------------------------------
@app.command("sync")
def sync(
    name: str = typer.Argument(None, help="The sync, <destination>__<segment>; without it, list the syncs."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan only: counts and samples, nothing sent."),
    force: bool = typer.Option(False, "--force", help="Run even past the sync's max_change_share guard."),
    full_resync: bool = typer.Option(False, "--full-resync", help="Send every row again; replace where possible."),
    pause: bool = typer.Option(False, "--pause", help="Skip this sync in every run until --resume."),
    resume: bool = typer.Option(False, "--resume", help="Undo --pause."),
    sandbox: bool = typer.Option(True, help="--no-sandbox sends to the vendors configured in .dlt/ instead."),
) -> None:
    """Run one sync now (plan, deliver, record), or show what it would do (--dry-run), or pause/resume it."""
    from orchestration.dbt import prepare_manifest
    from orchestration.segments import sync_specs
    from reverse_etl.report import plan_lines, sync_listing

    specs = {spec.name: spec for spec in sync_specs(prepare_manifest())}
    if name is None:
        for line in sync_listing(list(specs.values())):
            typer.echo(line)
        return
    if name not in specs:
        raise typer.BadParameter(f"No sync named {name!r}; the syncs are: {', '.join(sorted(specs))}.")
    marker = paths.syncs_dir() / name / "paused"
    if pause or resume:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch() if pause else marker.unlink(missing_ok=True)
        typer.echo(f"{name} is {'paused' if pause else 'active'}.")
        return
    if dry_run:
        for line in plan_lines(specs[name], full_resync=full_resync):
            typer.echo(line)
        return
    from orchestration.assets.syncs import FORCE_TAG, FULL_RESYNC_TAG

    tags = {FORCE_TAG: str(force).lower(), FULL_RESYNC_TAG: str(full_resync).lower()}
    selection = [f'key:"syncs/{name}"']
    if not sandbox:
        _materialize(selection, tags)
        return
    from sandbox.server import sandbox_process

    with sandbox_process(paths.world_dir()) as base_url:
        _use_sandbox(base_url)
        _materialize(selection, tags)


# -- sources check ---------------------------------------------------------------------------------------------
sources_app = typer.Typer(no_args_is_help=True, help="The configured vendor sources.")
app.add_typer(sources_app, name="sources")


@sources_app.command("check")
def sources_check(
    sources: list[str] = typer.Argument(None, help="Sources to check (default: all)."),
    sandbox: bool = typer.Option(False, help="--sandbox checks against the sandbox world instead of .dlt/."),
) -> None:
    """One cheap authenticated read per source: connectivity and credentials, nothing loaded."""
    from cdp.sources_check import check_sources

    def report() -> None:
        results = check_sources(sources or None)
        for result in results:
            typer.echo(result.line())
        if not all(result.ok for result in results):
            raise typer.Exit(1)

    if not sandbox:
        report()
        return
    from sandbox.server import sandbox_process

    with sandbox_process(paths.world_dir()) as base_url:
        _use_sandbox(base_url)
        report()


if __name__ == "__main__":
    app()
