"""Asset selections (Dagster selection syntax) for tests that need only part of the graph."""

# What identity resolution's outputs depend on, plus the read copy that `cdp identity` and the tests read:
# about a fifth of the graph (no events, predictions, segments or syncs), so a whole-path identity test runs
# in a fraction of a full refresh.
IDENTITY = ['+key:"marts/customer_source_records"', '+key:"marts/identity_merges"', 'key:"published_warehouse"']
