"""HTTP clients for checks: one TLS context per run, and never a proxy for a local service.

Building a TLS context (loading the CA bundle) costs tens of milliseconds; every check runs in
a forked child, so the runner builds it once in the parent and each child's clients share it.
A TA's HTTP(S)_PROXY must not capture requests to a container on 127.0.0.1: clients for a
local service ignore the environment; clients for a deployed URL or GitHub honour it.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def tls() -> ssl.SSLContext:
    """httpx's default verification (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), built once."""
    return httpx.create_ssl_context()


def client(*, local: bool, **options: Any) -> httpx.Client:
    """An httpx client; `local`: the service runs on this machine (no proxy, no env)."""
    return httpx.Client(verify=tls(), trust_env=not local, **options)
