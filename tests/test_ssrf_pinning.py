"""The SSRF guard checks the very address the connection then goes to.

Servers are real HTTP servers on loopback addresses. `localhost` comes from /etc/hosts. The
DNS-rebinding case needs a resolver that changes its answer between lookups, which no local
name does: there, and only there, `socket.getaddrinfo` is replaced for one made-up name
(every other name still goes to the real resolver). It answers the allowed address to the
first lookups and another loopback address afterwards, as a rebinding attacker's DNS does
with a short TTL; the unguarded address must never receive a connection.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from banwatch.ingest.http import get, make_client

from banwatch.config import FetchSettings
from banwatch.errors import UnsafeURLError

REBIND_HOST = "rebind.banwatch.test"


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], name: str) -> None:
        super().__init__(address, _Handler)
        self.name = name
        self.hosts: list[str] = []  # Host header of every request received


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self.server.hosts.append(self.headers.get("Host", ""))
        if self.path.startswith("/hop?to="):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/hop?to="))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.server.name.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(address: tuple[str, int], name: str) -> _Recorder:
    server = _Recorder(address, name)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def twin_servers() -> Iterator[tuple[_Recorder, _Recorder]]:
    """Server "allowed" on 127.0.0.1:P and server "forbidden" on 127.0.0.2:P (same port)."""
    for _ in range(20):
        allowed = _serve(("127.0.0.1", 0), "allowed")
        try:
            forbidden = _serve(("127.0.0.2", allowed.server_address[1]), "forbidden")
        except OSError:  # that port is taken on 127.0.0.2: try another
            allowed.shutdown()
            allowed.server_close()
            continue
        break
    else:
        pytest.fail("no port free on both 127.0.0.1 and 127.0.0.2")
    yield allowed, forbidden
    for server in (allowed, forbidden):
        server.shutdown()
        server.server_close()


@pytest.fixture
def rebinding_resolver(monkeypatch) -> list[str]:
    """getaddrinfo for REBIND_HOST: 127.0.0.1 to the first two lookups, then 127.0.0.2.

    Returns the list of answers given, in order. (Two: the old guard looked up twice, once in
    `get` and once per request hook, before the connection looked up a third time.)"""
    real = socket.getaddrinfo
    answers: list[str] = []

    def fake(host, port, *args, **kwargs):
        if host != REBIND_HOST:
            return real(host, port, *args, **kwargs)
        address = "127.0.0.1" if len(answers) < 2 else "127.0.0.2"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


def _settings(fetch_settings: FetchSettings, allowed: list[str]) -> FetchSettings:
    return fetch_settings.replace(allowed_hosts=allowed, retries=0)


def test_connection_goes_to_the_address_that_was_checked(
    twin_servers, rebinding_resolver, fetch_settings
) -> None:
    allowed, forbidden = twin_servers
    port = allowed.server_address[1]
    url = f"http://{REBIND_HOST}:{port}/page"
    settings = _settings(fetch_settings, ["127.0.0.1"])
    with make_client(settings) as client:
        response = get(client, url, settings=settings)
    assert response.text == "allowed"
    assert forbidden.hosts == []  # the rebound address was never connected to
    assert allowed.hosts == [f"{REBIND_HOST}:{port}"]  # the Host header keeps the name
    assert rebinding_resolver[0] == "127.0.0.1"


def test_a_host_that_rebinds_to_a_refused_address_is_refused_before_connecting(
    twin_servers, rebinding_resolver, fetch_settings
) -> None:
    allowed, forbidden = twin_servers
    rebinding_resolver.extend(["used", "up"])  # the next lookup already answers 127.0.0.2
    url = f"http://{REBIND_HOST}:{allowed.server_address[1]}/page"
    settings = _settings(fetch_settings, ["127.0.0.1"])
    with make_client(settings) as client, pytest.raises(UnsafeURLError, match="127.0.0.2"):
        get(client, url, settings=settings)
    assert forbidden.hosts == [] and allowed.hosts == []


def test_localhost_is_refused_unless_allowed(twin_servers, fetch_settings) -> None:
    allowed, _ = twin_servers
    url = f"http://localhost:{allowed.server_address[1]}/page"
    refused = _settings(fetch_settings, [])
    with make_client(refused) as client, pytest.raises(UnsafeURLError, match="localhost"):
        get(client, url, settings=refused)
    assert allowed.hosts == []

    permitted = _settings(fetch_settings, ["localhost"])
    with make_client(permitted) as client:
        assert get(client, url, settings=permitted).text == "allowed"


def test_a_redirect_to_a_refused_address_is_refused(twin_servers, fetch_settings) -> None:
    """Every connection is checked, so an allowed first hop cannot bounce elsewhere."""
    allowed, forbidden = twin_servers
    port = allowed.server_address[1]
    url = f"http://127.0.0.1:{port}/hop?to=http://127.0.0.2:{port}/secret"
    settings = _settings(fetch_settings, ["127.0.0.1"])
    with make_client(settings) as client, pytest.raises(UnsafeURLError, match="127.0.0.2"):
        get(client, url, settings=settings)
    assert len(allowed.hosts) == 1 and forbidden.hosts == []
