"""The sync engine: plan in the warehouse, deliver over HTTP, record per-row results (issue: Activation)."""
