"""The I/O edge of the predictions: read features and orders from the warehouse, write results back."""

from __future__ import annotations

import duckdb
import pandas as pd

SCHEMA = "predictions"


def read_features(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    # ordered, so the same warehouse gives the same rows in the same order (and so the same model)
    return con.execute(f"select * from {SCHEMA}.prediction_features order by cutoff_at, customer_id").df()


def read_orders(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Placed, not cancelled orders of customers: what a label counts as a purchase."""
    return con.execute("""
        select customer_id, ordered_at from intermediate.int_orders_netted
        where customer_id is not null and not is_cancelled
        order by customer_id, ordered_at
    """).df()


def replace_table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    con.register("incoming_frame", frame)
    try:
        con.execute(f"create or replace table {SCHEMA}.{name} as select * from incoming_frame")
    finally:
        con.unregister("incoming_frame")
