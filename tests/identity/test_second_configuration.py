"""Identity on a world of the second ("alt") conventions, which identity was not developed on: other address
styles and providers, nicknames, more GB and DE people, more sharing in households, fewer sign-ins
(sandbox/world/config.py). The quality bar of test_small_world_quality.py must hold there too.
"""

from __future__ import annotations

import json

import duckdb
import pytest

from tests.helpers.identity import scored_world


def test_an_alt_world_records_its_conventions_and_writes_people_its_way(tmp_path):
    from sandbox.world.advance import advance_world
    from sandbox.world.config import ALT_CONVENTIONS
    from sandbox.world.generate import build_world
    from sandbox.world.identity import ALT_PERSONAL_DOMAINS, PERSONAL_DOMAINS

    world_dir = tmp_path / "sandbox" / "world"
    world = build_world(world_dir, "tiny", 7, progress=lambda _: None, conventions="alt")
    assert world["conventions"] == "alt"
    assert world["rates"] == ALT_CONVENTIONS.rates.as_dict()
    advance_world(world_dir, 1, progress=lambda _: None)  # advance keeps drawing newcomers the alt way
    people = [json.loads(s) for (s,) in duckdb.sql(
        f"select state from read_parquet('{tmp_path}/sandbox/people.parquet')").fetchall()]
    domains = {email.split("@")[1] for p in people for email in p["emails"]}
    dev_only = {d for ds in PERSONAL_DOMAINS.values() for d in ds}
    alt_only = {d for ds in ALT_PERSONAL_DOMAINS.values() for d in ds} - dev_only
    assert domains & alt_only, "no address at a provider only the alt conventions have"
    # styles the dev world never writes: initial+last (no dot) and last.first
    locals_ = [email.split("@")[0] for p in people for email in p["emails"][:1]]
    assert any(local == f"{p['first_name'][0]}{p['last_name']}{p['person_id'][1:].lstrip('0')}".lower()
               for local, p in zip(locals_, people, strict=True))
    assert any(local.startswith(f"{p['last_name'].lower()}.") for local, p in zip(locals_, people, strict=True))
    assert json.loads((world_dir / "world.json").read_text())["conventions"] == "alt"


def test_an_unknown_conventions_name_is_refused_before_anything_is_written(tmp_path):
    from sandbox.world.generate import build_world

    with pytest.raises(ValueError, match="unknown world conventions 'other'"):
        build_world(tmp_path / "sandbox" / "world", "tiny", 7, progress=lambda _: None, conventions="other")
    assert not (tmp_path / "sandbox").exists()


@pytest.mark.slow
@pytest.mark.e2e
def test_profiles_of_an_alt_tiny_world_meet_the_quality_bar(tmp_path, monkeypatch):
    result = scored_world(tmp_path / "home", monkeypatch, "tiny", 7, conventions="alt")
    print("tiny alt world, seed 7:", *result.lines(), sep="\n  ")
    assert result.precision >= 0.995, result.lines()
    assert result.profiles_joined_only_by_bad_identifiers == 0, result.lines()
    # The acceptance is recall within 0.02 of the dev world's, whose bar is 0.97 (test_whole_path.py)
    assert result.recall >= 0.95, result.lines()
    # reported beside it: all records' pairs, those no personal identifier joins included
    assert 0.0 < result.recall_all_records <= 1.0, result.lines()
