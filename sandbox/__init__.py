"""The embedded default: a synthetic business (world/) and its vendors' APIs (emulators/). See README.md."""
