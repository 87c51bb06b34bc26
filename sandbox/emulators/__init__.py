"""One ASGI app that serves the world's records with each vendor's real contract."""
