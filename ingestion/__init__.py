"""One dlt source per vendor (`ingestion/<vendor>/`), runnable alone: `python -m ingestion <vendor>`.

Each source folder follows dlt's verified-sources layout: `__init__.py` (the `@dlt.source` and its
resources), `settings.py` (endpoints, page sizes, primary keys), `helpers.py` (the only I/O beyond dlt's
rest_api). Base URLs and credentials come from dlt config/secrets (`.dlt/config.toml`, `SOURCES__...`
environment variables); the sandbox is the default.
"""
