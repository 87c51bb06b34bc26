"""A deterministic, seeded world of one business, written in each vendor's API shape."""
