"""Identity resolution: identifiers normalised, the graph resolved into profiles with stable ids, explained
and (sandbox only) scored against the ground truth. Pure functions here; I/O sits in `step.py`, `explain.py`
and `score.py`."""
