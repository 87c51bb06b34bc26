"""Segments: membership history in the warehouse, and the churn score against the sandbox's truth."""
