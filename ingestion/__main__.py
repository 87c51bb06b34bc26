"""`python -m ingestion <source> [...]`: load one or more sources into the warehouse, no Dagster needed."""

from __future__ import annotations

import sys

from ingestion.pipeline import SOURCE_NAMES, run_source


def main(argv: list[str]) -> int:
    names = argv or list(SOURCE_NAMES)
    for name in names:
        print(run_source(name).summary(), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
