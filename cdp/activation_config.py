"""The `config.meta.cdp` block of a dbt model: what the model is (a segment) and where it goes (`syncs:`).

dbt keeps whatever a model puts under `meta` and silently drops unknown top-level config keys, so a typo
would otherwise vanish without a trace. Every block is validated here, and each problem is reported with the
model, the key and the fix. Pure functions only: the orchestration reads the manifest and calls them, and the
reverse ETL engine (issue 7) reads the validated declarations.

    config:
      meta:
        cdp:
          name: vip                      # optional, defaults to the model name; [a-z][a-z0-9_]*
          description: Top 5% of buyers  # required
          owner: crm@example.com          # required: who to ask about this segment
          cadence: daily                  # required: hourly | daily | weekly
          syncs:                          # optional
            - destination: klaviyo_list   # required, see DESTINATIONS
              key: customer_id            # required: the model column that identifies the person
              mode: mirror                # required: upsert | update | insert | mirror
              target: VIP customers       # optional: the list / audience name in the destination
              fields: {cdp_ltv: lifetime_revenue}   # optional: destination field -> model column
              max_change_share: 0.5       # optional: refuse a run changing or removing more of what the
                                          # destination holds than this share, unless forced (default 0.5)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

CADENCES = ("hourly", "daily", "weekly")
SYNC_MODES = ("upsert", "update", "insert", "mirror")
# The destinations issue 7's engine delivers to (shared/reference has each vendor's contract).
DESTINATIONS = (
    "klaviyo_list",
    "klaviyo_profiles",
    "meta_custom_audience",
    "hubspot_contacts",
    "hubspot_tasks",
    "webhook",
)
SEGMENT_KEYS = {"name", "description", "owner", "cadence", "syncs"}
SYNC_KEYS = {"destination", "key", "mode", "target", "fields", "max_change_share"}
DEFAULT_MAX_CHANGE_SHARE = 0.5
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ActivationConfigError(ValueError):
    """One or more `config.meta.cdp` blocks are malformed; the message lists every problem."""


@dataclass(frozen=True)
class SyncDeclaration:
    destination: str
    key: str
    mode: str
    target: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    max_change_share: float = DEFAULT_MAX_CHANGE_SHARE


@dataclass(frozen=True)
class SegmentDeclaration:
    model: str
    name: str
    description: str
    owner: str
    cadence: str
    syncs: tuple[SyncDeclaration, ...] = ()

    def sync_name(self, sync: SyncDeclaration) -> str:
        """One sync per destination and segment, so this names it uniquely: `klaviyo_list__vip`."""
        return f"{sync.destination}__{self.name}"


def parse_segment_block(model: str, block: Any, columns: set[str] | None = None) -> SegmentDeclaration:
    """Validate one model's `meta.cdp` block; raise ActivationConfigError naming every problem.

    `columns` are the model's documented columns, when it documents any: sync keys and fields must be among
    them. Without documented columns the check waits for the table (the membership step checks customer_id).
    """
    problems = _segment_problems(model, block, columns)
    if problems:
        raise ActivationConfigError("\n".join(problems))
    syncs = tuple(
        SyncDeclaration(destination=s["destination"], key=s["key"], mode=s["mode"], target=s.get("target"),
                        fields=dict(s.get("fields") or {}),
                        max_change_share=float(s.get("max_change_share", DEFAULT_MAX_CHANGE_SHARE)))
        for s in block.get("syncs") or []
    )
    return SegmentDeclaration(model=model, name=block.get("name", model), description=block["description"].strip(),
                              owner=block["owner"].strip(), cadence=block["cadence"], syncs=syncs)


def parse_segments(blocks: dict[str, tuple[Any, set[str] | None]]) -> list[SegmentDeclaration]:
    """Every model's block at once: all problems in one error, and segment names unique across models."""
    problems: list[str] = []
    segments: list[SegmentDeclaration] = []
    for model, (block, columns) in sorted(blocks.items()):
        try:
            segments.append(parse_segment_block(model, block, columns))
        except ActivationConfigError as error:
            problems.append(str(error))
    seen: dict[str, str] = {}
    for segment in segments:
        if segment.name in seen:
            problems.append(
                f"model {segment.model}: meta.cdp.name {segment.name!r} is already the name of model "
                f"{seen[segment.name]}'s segment; fix: give one of them another name."
            )
        seen.setdefault(segment.name, segment.model)
    if problems:
        raise ActivationConfigError("\n".join(problems))
    return segments


def _segment_problems(model: str, block: Any, columns: set[str] | None) -> list[str]:
    where = f"model {model}: meta.cdp"
    if not isinstance(block, dict):
        return [f"{where} must be a mapping (name, description, owner, cadence, syncs), got {type(block).__name__}."]
    problems = [
        f"{where}.{key} is not a known key; fix: remove it or use one of {sorted(SEGMENT_KEYS)}."
        for key in sorted(set(block) - SEGMENT_KEYS)
    ]
    name = block.get("name", model)
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{where}.name {name!r} is not a segment name; fix: use lowercase letters, digits and _.")
    for key in ("description", "owner"):
        value = block.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}.{key} is missing; fix: add `{key}:` with a non-empty text.")
    cadence = block.get("cadence")
    if cadence not in CADENCES:
        problems.append(f"{where}.cadence is {cadence!r}; fix: use one of {list(CADENCES)}.")
    syncs = block.get("syncs") or []
    if not isinstance(syncs, list):
        problems.append(f"{where}.syncs must be a list of sync blocks; fix: start each sync with `- destination:`.")
        syncs = []
    destinations = [s.get("destination") for s in syncs if isinstance(s, dict)]
    for duplicate in sorted({d for d in destinations if destinations.count(d) > 1 and isinstance(d, str)}):
        problems.append(f"{where}.syncs has destination {duplicate!r} twice; fix: one sync per destination.")
    for index, sync in enumerate(syncs):
        problems += _sync_problems(f"{where}.syncs[{index}]", sync, columns)
    return problems


def _sync_problems(where: str, sync: Any, columns: set[str] | None) -> list[str]:
    if not isinstance(sync, dict):
        return [f"{where} must be a mapping (destination, key, mode, target, fields)."]
    problems = [
        f"{where}.{key} is not a known key; fix: remove it or use one of {sorted(SYNC_KEYS)}."
        for key in sorted(set(sync) - SYNC_KEYS)
    ]
    if sync.get("destination") not in DESTINATIONS:
        problems.append(f"{where}.destination is {sync.get('destination')!r}; fix: use one of {list(DESTINATIONS)}.")
    if sync.get("mode") not in SYNC_MODES:
        problems.append(f"{where}.mode is {sync.get('mode')!r}; fix: use one of {list(SYNC_MODES)}.")
    key = sync.get("key")
    if not isinstance(key, str) or not key:
        problems.append(f"{where}.key is missing; fix: name the model column that identifies the person.")
    elif columns and key not in columns:
        problems.append(f"{where}.key {key!r} is not a column of the model; fix: use one of {sorted(columns)}.")
    target = sync.get("target")
    if target is not None and (not isinstance(target, str) or not target.strip()):
        problems.append(f"{where}.target must be a non-empty text (the list or audience name).")
    share = sync.get("max_change_share", DEFAULT_MAX_CHANGE_SHARE)
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        problems.append(f"{where}.max_change_share is {share!r}; fix: a share between 0 (exclusive) and 1, e.g. 0.5.")
    fields = sync.get("fields") or {}
    if not isinstance(fields, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items()):
        problems.append(f"{where}.fields must map destination field names to model columns, e.g. `cdp_ltv: ltv`.")
    elif columns:
        for destination_field, column in sorted(fields.items()):
            if column not in columns:
                problems.append(
                    f"{where}.fields.{destination_field} reads column {column!r}, which the model does not have; "
                    f"fix: use one of {sorted(columns)}."
                )
    return problems
