"""HTTP clients: a local service is never reached through the TA's proxy; a URL is."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from grader import web


class Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.server.seen.append(self.path)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(name: str) -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.name, server.seen = name, []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def service() -> Iterator[http.server.ThreadingHTTPServer]:
    yield from _serve("service")


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[http.server.ThreadingHTTPServer]:
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for server in _serve("proxy"):
        address = f"http://127.0.0.1:{server.server_address[1]}"
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, address)
        yield server


@pytest.mark.parametrize(
    ("local", "answered_by"),
    [(True, "service"), (False, "proxy")],
    ids=["a local service: never via the proxy", "a deployed URL: via the TA's proxy"],
)
def test_only_clients_of_a_deployed_url_use_the_proxy(
    local: bool,
    answered_by: str,
    service: http.server.ThreadingHTTPServer,
    proxy: http.server.ThreadingHTTPServer,
) -> None:
    url = f"http://127.0.0.1:{service.server_address[1]}/health"
    with web.client(local=local, timeout=5) as http_client:
        assert http_client.get(url).text == answered_by
    seen = {"service": service.seen, "proxy": proxy.seen}  # type: ignore[attr-defined]
    assert seen == {
        "service": ["/health"] if local else [],
        "proxy": [] if local else [url],
    }


def test_the_tls_context_is_built_once() -> None:
    assert web.tls() is web.tls()
