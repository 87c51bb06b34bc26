"""Fixtures shared by the ingestion tests."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture()
def no_dns_for_invalid(monkeypatch):
    """`.invalid` names (RFC 6761) fail to resolve here, before any query leaves the machine."""
    resolve = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if str(host).endswith(".invalid"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
