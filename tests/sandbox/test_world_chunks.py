"""The world generator's chunking: chunks are independent (own random stream, own id ranges), so the world
is the same whatever the number of worker processes, and `advance` continues after every chunk's ids."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from sandbox.world import generate
from sandbox.world.advance import advance_world
from sandbox.world.people import random_bytes
from tests.sandbox.test_world import QUIET, content_digest


@pytest.fixture
def three_chunks(monkeypatch):
    # the tiny world (300 people) in chunks of 100, so the pool has something to share out
    monkeypatch.setattr(generate, "CHUNK_PEOPLE", 100)


def served_ids(world_dir, vendor: str, resource: str) -> list[str]:
    return pq.read_table(world_dir / vendor / f"{resource}.parquet")["id"].to_pylist()


def test_one_worker_and_two_workers_write_the_same_world(three_chunks, tmp_path):
    generate.build_world(tmp_path / "one" / "world", "tiny", 7, progress=QUIET, workers=1)
    generate.build_world(tmp_path / "two" / "world", "tiny", 7, progress=QUIET, workers=2)
    assert content_digest(tmp_path / "one" / "world") == content_digest(tmp_path / "two" / "world")
    truth = pq.read_table(tmp_path / "two" / "ground_truth.parquet")
    keys = list(zip(truth["source"].to_pylist(), truth["record_type"].to_pylist(), truth["record_id"].to_pylist(),
                    strict=True))
    assert len(keys) == len(set(keys))


def test_chunks_never_share_an_id_and_advance_continues_after_them(three_chunks, tmp_path):
    world_dir = tmp_path / "world"
    generate.build_world(world_dir, "tiny", 7, progress=QUIET, workers=1)
    for vendor, resource in (("shopify", "orders"), ("shopify", "customers"), ("klaviyo", "profiles"),
                             ("klaviyo", "events"), ("hubspot", "contacts")):
        ids = served_ids(world_dir, vendor, resource)
        assert len(ids) == len(set(ids)), f"{vendor}.{resource} has an id twice"
    orders_before = set(served_ids(world_dir, "shopify", "orders"))
    advance_world(world_dir, 2, progress=QUIET)
    orders_after = served_ids(world_dir, "shopify", "orders")
    assert len(orders_after) == len(set(orders_after))
    new_orders = set(orders_after) - orders_before
    assert new_orders and min(map(int, new_orders)) > max(map(int, orders_before))


def test_a_chunk_that_runs_out_of_ids_stops_with_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(generate, "ID_SPAN", 50)
    with pytest.raises(RuntimeError, match="ran out of .* ids"):
        generate.build_world(tmp_path / "world", "tiny", 7, progress=QUIET, workers=1)


@pytest.mark.parametrize("seed", range(20))
def test_random_bytes_are_numpys_bytes_and_leave_the_same_stream(seed):
    ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
    for step in range(200):
        # interleave draws that leave half of a 64-bit output buffered (integers) and that do not
        n_bytes = (16, 8, 6, 12)[step % 4]
        assert random_bytes(ours, n_bytes) == numpys.bytes(n_bytes)
        assert ours.integers(5, 120) == numpys.integers(5, 120)
    assert ours.random() == numpys.random()
