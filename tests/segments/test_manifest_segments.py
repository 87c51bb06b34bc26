"""Reading segments from a dbt manifest: which models declare one, and where dbt builds them."""

from __future__ import annotations

import numpy as np

from cdp.segments.score import precision_recall
from orchestration.segments import cdp_blocks, relation_names

BLOCK = {"description": "d", "owner": "o@example.com", "cadence": "daily"}


def model(name: str, meta: dict | None = None, schema: str = "segments", contract: bool = False) -> dict:
    return {"resource_type": "model", "name": name, "schema": schema, "alias": name,
            "config": {"meta": meta or {}, "contract": {"enforced": contract}},
            "columns": {"customer_id": {}, "ltv": {}}}


MANIFEST = {"nodes": {
    "model.cdp.vip": model("vip", {"cdp": BLOCK}, contract=True),
    "model.cdp.repeat": model("repeat", {"cdp": BLOCK}, schema="main"),
    "model.cdp.plain": model("plain", {"owner": "someone"}),
    "test.cdp.unique_vip": {"resource_type": "test", "name": "unique_vip", "config": {"meta": {"cdp": {}}}},
}}


def test_only_models_with_a_cdp_block_are_segments_and_contract_columns_are_kept_for_validation():
    blocks = cdp_blocks(MANIFEST)
    assert set(blocks) == {"vip", "repeat"}
    assert blocks["vip"] == (BLOCK, {"customer_id", "ltv"})
    assert blocks["repeat"] == (BLOCK, None), "documented columns without a contract may be incomplete"


def test_relations_name_the_schema_dbt_builds_each_model_in():
    assert relation_names(MANIFEST)["repeat"] == "main.repeat"
    assert relation_names(MANIFEST)["vip"] == "segments.vip"


def test_precision_and_recall_count_true_positives_over_predicted_and_actual():
    predicted = np.array([True, True, False, False])
    actual = np.array([True, False, True, False])
    assert precision_recall(predicted, actual) == (0.5, 0.5)
    assert np.isnan(precision_recall(np.array([False]), np.array([True]))[0])
