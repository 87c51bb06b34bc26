"""Dagster: the asset graph from vendor APIs to marts (and, later, syncs). The only package that imports dagster."""
