"""The one HTTP client banwatch uses, and the rules every request follows.

- A default timeout, a User-Agent, bounded connection pool, redirects followed (at most 5).
- SSRF guard: hosts that resolve to private, loopback, link-local or otherwise reserved
  addresses are refused unless listed in `fetch.allowed_hosts`. The check runs as a request
  event hook, so every redirect hop is checked, not only the first URL.
- Bodies are streamed with a size cap (`fetch.max_bytes`): a 20 MB page is aborted, not read.
- Retries on timeouts, 429 and 5xx, honouring `Retry-After` up to `fetch.retry_max_wait`.
- `exception_to_outcome` maps whatever went wrong to an (Outcome, fixed reason) pair, in the
  manner of mediacloud/rss-fetcher's `request_exception_to_status`.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import httpx

from banwatch.config import FetchSettings
from banwatch.errors import FetchError, UnsafeURLError
from banwatch.records import Outcome

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 5
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE = 0.5  # seconds; doubled per attempt when the server gives no Retry-After
CHUNK_SIZE = 64 * 1024

# Hop-by-hop/encoding headers that no longer describe a body we have already decoded.
_STALE_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


# ---------------------------------------------------------------- SSRF guard


def _resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return []  # unresolvable: the request fails with connect_error, nothing to guard
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url_safe(url: str, allowed_hosts: list[str] | tuple[str, ...]) -> None:
    """Raise `UnsafeURLError` if `url`'s host is private/loopback/reserved and not allowed."""
    parts = urlsplit(str(url))
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError(
            f"scheme {parts.scheme!r} is not fetched; only http and https are",
            url=str(url),
            reason="unsafe_url",
        )
    host = (parts.hostname or "").lower()
    if host in allowed_hosts:
        return
    addresses = _resolve(host)
    if all(str(a) in allowed_hosts for a in addresses) and addresses:
        return
    bad = [str(a) for a in addresses if not _is_public(a)]
    if bad:
        raise UnsafeURLError(
            f"host {host!r} resolves to non-public address {bad[0]}; add it to "
            "fetch.allowed_hosts if it is meant to be fetched",
            url=str(url),
            reason="unsafe_url",
        )


# ---------------------------------------------------------------- client


def make_client(settings: FetchSettings) -> httpx.Client:
    """An `httpx.Client` with banwatch's defaults; every request (and redirect hop) is guarded."""
    allowed = tuple(h.lower() for h in settings.allowed_hosts)

    def guard(request: httpx.Request) -> None:
        check_url_safe(str(request.url), allowed)

    return httpx.Client(
        timeout=httpx.Timeout(settings.timeout),
        headers={"User-Agent": settings.user_agent},
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        limits=httpx.Limits(
            max_connections=max(1, settings.concurrency),
            max_keepalive_connections=max(1, settings.concurrency),
        ),
        event_hooks={"request": [guard]},
    )


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(
            f"body of {declared} bytes exceeds fetch.max_bytes ({max_bytes})",
            url=str(response.url),
            reason="too_large",
            status_code=response.status_code,
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes(CHUNK_SIZE):
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(
                f"body exceeds fetch.max_bytes ({max_bytes}); download aborted",
                url=str(response.url),
                reason="too_large",
                status_code=response.status_code,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _once(
    client: httpx.Client,
    url: str,
    settings: FetchSettings,
    headers: Mapping[str, str] | None,
    check: Callable[[httpx.Response], None] | None,
) -> httpx.Response:
    with client.stream("GET", url, headers=headers) as response:
        if response.status_code >= 400:
            return response  # only the status matters; the unread body is dropped with it
        if check is not None and response.status_code != 304:
            check(response)
        body = _read_capped(response, settings.max_bytes)
    fresh_headers = [(k, v) for k, v in response.headers.multi_items() if k not in _STALE_HEADERS]
    result = httpx.Response(
        response.status_code,
        headers=fresh_headers,
        content=body,
        request=response.request,
        extensions=response.extensions,
    )
    result.history = response.history
    return result


def get(
    client: httpx.Client,
    url: str,
    *,
    settings: FetchSettings,
    headers: Mapping[str, str] | None = None,
    check: Callable[[httpx.Response], None] | None = None,
) -> httpx.Response:
    """GET `url` under banwatch's rules; returns a fully read response (2xx or 304).

    `check` sees the response before its body is downloaded (e.g. to refuse a PDF by its
    content type) and raises `FetchError` to stop. Raises `UnsafeURLError`, `FetchError`
    ("too_large"), `httpx.HTTPStatusError` after retries, or another `httpx.HTTPError`.
    """
    check_url_safe(url, tuple(h.lower() for h in settings.allowed_hosts))
    attempts = max(0, settings.retries) + 1
    for attempt in range(1, attempts + 1):
        wait: float | None = None
        try:
            response = _once(client, url, settings, headers, check)
        except httpx.TimeoutException:
            if attempt == attempts:
                raise
            logger.debug("timeout on %s (attempt %d/%d)", url, attempt, attempts)
        else:
            if response.status_code not in RETRY_STATUSES or attempt == attempts:
                if response.status_code >= 400:  # (raise_for_status would also reject a 304)
                    response.raise_for_status()
                return response
            wait = retry_after_seconds(response.headers.get("retry-after"))
            logger.debug(
                "%s answered %d (attempt %d/%d)", url, response.status_code, attempt, attempts
            )
        if wait is None:
            wait = BACKOFF_BASE * 2 ** (attempt - 1)
        time.sleep(min(wait, settings.retry_max_wait))
    raise AssertionError("unreachable")  # the loop returns or raises on its last attempt


# ---------------------------------------------------------------- outcomes

_HARD_FETCH_REASONS = {"too_large", "unsafe_url", "not_html", "not_a_feed", "malformed"}


def exception_to_outcome(exc: BaseException) -> tuple[Outcome, str, int | None]:
    """Map an exception from `get` (or parsing) to (outcome, fixed reason, HTTP status)."""
    if isinstance(exc, FetchError):
        outcome = Outcome.HARD if exc.reason in _HARD_FETCH_REASONS else Outcome.TEMPORARY
        return outcome, exc.reason, exc.status_code
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        temporary = code in RETRY_STATUSES or code >= 500 or code == 408
        return (Outcome.TEMPORARY if temporary else Outcome.HARD), f"http_{code}", code
    if isinstance(exc, httpx.TimeoutException):
        return Outcome.TEMPORARY, "timeout", None
    if isinstance(exc, httpx.TooManyRedirects):
        return Outcome.HARD, "too_many_redirects", None
    if isinstance(exc, httpx.ConnectError):
        return Outcome.TEMPORARY, "connect_error", None
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return Outcome.TEMPORARY, "protocol_error", None
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return Outcome.HARD, "bad_url", None
    if isinstance(exc, httpx.HTTPError):
        return Outcome.TEMPORARY, "http_error", None
    return Outcome.HARD, "error", None


def describe(exc: BaseException) -> str:
    """One human-readable line for the `error` column."""
    text = (str(exc) or type(exc).__name__).strip().splitlines()[0]
    return f"{type(exc).__name__}: {text}"[:500]
