"""The one way to build and run an ingestion pipeline into the warehouse.

Every source loads into the DuckDB warehouse at `cdp.paths.warehouse_path()`, in a dataset (schema) named
after the vendor, so dbt reads `source('hubspot', 'contacts')` from schema `hubspot`. Pipeline state (the
incremental cursors) lives under `$CDP_HOME/pipelines`, not in the working directory, so it survives
between runs wherever they are started from.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import dlt
from dlt.sources import DltSource

from cdp.paths import pipelines_dir, warehouse_path

SOURCE_NAMES = ("hubspot", "shopify", "mixpanel", "klaviyo", "meta")


def source_factory(name: str) -> Callable[..., DltSource]:
    """The `@dlt.source` function of a vendor, e.g. `source_factory("hubspot")()`."""
    if name not in SOURCE_NAMES:
        raise ValueError(f"Unknown source {name!r}: choose one of {', '.join(SOURCE_NAMES)}.")
    module = importlib.import_module(f"ingestion.{name}")
    return getattr(module, f"{name}_source")


def make_pipeline(name: str, dev_mode: bool = False) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=name,
        destination=dlt.destinations.duckdb(str(warehouse_path())),
        dataset_name=name,
        pipelines_dir=str(pipelines_dir()),
        dev_mode=dev_mode,
        progress="log",
    )


def run_source(name: str, **source_kwargs) -> dlt.common.pipeline.LoadInfo:
    pipeline = make_pipeline(name)
    return pipeline.run(source_factory(name)(**source_kwargs))
