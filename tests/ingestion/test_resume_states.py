"""A state a kill leaves behind only rarely, built exactly on disk, then finished by the next run.

The kill tests (test_kill_resume.py) land wherever the kill happens to fall; the window inside dlt's normalize
commit is too narrow for them to hit reliably, so it is built here with a real dlt pipeline instead.
"""

from __future__ import annotations

import shutil

import dlt
import duckdb
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.pipeline import drop_half_normalized_packages


@dlt.resource(primary_key="id", write_disposition="merge")
def things(n: int):
    yield [{"id": i, "value": i * 10} for i in range(n)]


def pipeline(tmp_path) -> dlt.Pipeline:
    return dlt.pipeline("resume_states", pipelines_dir=str(tmp_path / "pipelines"), dataset_name="raw",
                        destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")))  # fmt: skip


def killed_inside_the_normalize_commit(tmp_path) -> None:
    """A first run loaded, then a second was killed after its package was moved into `load/normalized` and
    before its extracted copy was deleted: the package is both extracted and normalized."""
    first = pipeline(tmp_path)
    first.run(things(5))
    first.extract(things(10))
    [package] = first.list_extracted_load_packages()
    extracted = tmp_path / "pipelines" / "resume_states" / "normalize" / "extracted" / package
    shutil.copytree(extracted, tmp_path / "extracted_copy")
    first.normalize()
    shutil.copytree(tmp_path / "extracted_copy", extracted)
    assert first.list_normalized_load_packages() == [package]


def rows(tmp_path) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        return con.execute("select count(*), count(distinct id) from raw.things").fetchall()


def test_without_the_repair_dlt_fails_on_the_package_it_already_normalized(tmp_path):
    killed_inside_the_normalize_commit(tmp_path)
    with pytest.raises(PipelineStepFailed, match="Directory not empty"):
        pipeline(tmp_path).run()


def test_a_run_killed_inside_the_normalize_commit_is_finished_exactly_once(tmp_path):
    killed_inside_the_normalize_commit(tmp_path)
    rerun = pipeline(tmp_path)
    drop_half_normalized_packages(rerun)
    rerun.run()
    assert rows(tmp_path) == [(10, 10)]
    assert not rerun.has_pending_data
