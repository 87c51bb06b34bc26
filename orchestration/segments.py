"""Segments as the dbt manifest declares them: every model whose `config.meta.cdp` block is present.

Read once when the Definitions are imported, so a new segment model (or a new sync in its block) becomes
assets with no Python change. A malformed block stops the import with a message naming the model, the key
and the fix (cdp.activation_config), rather than dropping the segment silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cdp.activation_config import SegmentDeclaration, parse_segments
from reverse_etl.plan import SyncSpec


def cdp_blocks(manifest: dict[str, Any]) -> dict[str, tuple[Any, set[str] | None]]:
    """model name -> (its meta.cdp block, its columns when a contract pins them) for models that have one."""
    blocks = {}
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model":
            continue
        config = node.get("config") or {}
        meta = config.get("meta") or node.get("meta") or {}
        if "cdp" not in meta:
            continue
        # Documented columns are complete only under an enforced contract; otherwise the table is checked.
        enforced = (config.get("contract") or {}).get("enforced", False)
        columns = set(node.get("columns") or {}) if enforced else None
        blocks[node["name"]] = (meta["cdp"], columns)
    return blocks


def relation_names(manifest: dict[str, Any]) -> dict[str, str]:
    """model name -> the relation dbt builds it as (schema.identifier), for the models of this project."""
    return {
        node["name"]: f"{node['schema']}.{node.get('alias') or node['name']}"
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "model"
    }


def load_segments(manifest_path: Path) -> list[SegmentDeclaration]:
    manifest = json.loads(Path(manifest_path).read_text())
    return parse_segments(cdp_blocks(manifest))


def segment_relations(manifest_path: Path, segments: list[SegmentDeclaration]) -> dict[str, str]:
    """segment name -> relation of its model."""
    relations = relation_names(json.loads(Path(manifest_path).read_text()))
    return {segment.name: relations[segment.model] for segment in segments}


def sync_specs(manifest_path: Path) -> list[SyncSpec]:
    """Every declared sync with the relation of the model it reads; named `<destination>__<segment>`."""
    segments = load_segments(manifest_path)
    relations = segment_relations(manifest_path, segments)
    return [
        SyncSpec(name=segment.sync_name(sync), model=segment.model, relation=relations[segment.name],
                 destination=sync.destination, key=sync.key, mode=sync.mode, target=sync.target or segment.name,
                 fields=dict(sync.fields), max_change_share=sync.max_change_share)
        for segment in segments
        for sync in segment.syncs
    ]
