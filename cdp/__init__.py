"""The `cdp` command line and the few settings every package shares (paths, the world clock)."""
