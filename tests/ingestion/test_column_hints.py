"""Every column a source declares reaches its table's schema as itself (dlt writes each column's name into the
hint dict it is given, so one dict shared by several columns used to collapse them into one)."""

from __future__ import annotations

import pytest
from dlt.common.configuration.exceptions import ConfigFieldMissingException

from ingestion.pipeline import SOURCE_NAMES, source_factory


def built_source(name: str):
    factory = source_factory(name)
    try:
        return factory()
    except ConfigFieldMissingException as missing:
        return factory(**{field: "1970-01-01" for field in missing.fields})


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_each_declared_column_keeps_its_own_name_in_the_table_schema(name, monkeypatch):
    monkeypatch.setenv(f"SOURCES__{name.upper()}__BASE_URL", "http://127.0.0.1:9/unused")
    for resource in built_source(name).resources.values():
        declared = dict(resource.columns or {}) if not callable(resource.columns) else {}
        schema = resource.compute_table_schema()["columns"]
        assert set(declared) <= set(schema), f"{name}.{resource.name} lost {set(declared) - set(schema)}"
        assert all(schema[column]["name"] == column for column in declared)


def test_klaviyo_profiles_keep_their_external_id_column_when_no_profile_has_one(monkeypatch):
    monkeypatch.setenv("SOURCES__KLAVIYO__BASE_URL", "http://127.0.0.1:9/unused")
    profiles = built_source("klaviyo").resources["profiles"]
    assert "attributes__external_id" in profiles.compute_table_schema()["columns"]
