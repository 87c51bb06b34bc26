"""Identity resolution: identifiers normalised, the graph resolved into profiles with stable ids, explained
and (sandbox only) scored against the ground truth. `normalize.py` and `resolve.py` are pure; the stable ids
are SQL (`stable_ids.py`); I/O sits in `step.py`, `explain.py` and `score.py`."""
