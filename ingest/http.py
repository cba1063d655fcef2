"""The one HTTP client banwatch uses, and the rules every request follows.

- A default timeout, a User-Agent, bounded connection pool, redirects followed (at most 5).
- Deadlines: `fetch.timeout` bounds connect and each read, `fetch.request_deadline` the whole
  request (a server trickling a byte at a time cannot reset it), and `fetch.retry_budget` all
  attempts at one URL together. Both end as reason "timeout".
- SSRF guard: hosts that resolve to private, loopback, link-local or otherwise reserved
  addresses are refused unless listed in `fetch.allowed_hosts`. The check runs in the
  transport's network backend on the very addresses it then connects to (one DNS answer for
  both, so a rebinding resolver cannot pass the check with one address and be connected to
  another); every connection, so every redirect hop, is checked. TLS SNI and certificate
  checks, and the Host header, keep the hostname.
- Bodies are streamed with a size cap (`fetch.max_bytes`): a 20 MB page is aborted, not read.
- Retries (tenacity) on timeouts, 429 and 5xx, honouring `Retry-After` up to
  `fetch.retry_max_wait`, exponential backoff otherwise.
- `exception_to_outcome` maps whatever went wrong to an (Outcome, fixed reason) pair, in the
  manner of mediacloud/rss-fetcher's `request_exception_to_status`.
"""

from __future__ import annotations

import contextvars
import email.utils
import ipaddress
import logging
import math
import socket
import ssl
import time
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential,
)
from tenacity.wait import wait_base

from banwatch.config import FetchSettings
from banwatch.errors import FetchError, UnsafeURLError
from banwatch.records import Outcome

logger = logging.getLogger(__name__)

# redirects (fetch.max_redirects) and the backoff (fetch.retry_backoff) are settings
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CHUNK_SIZE = 64 * 1024

# Hop-by-hop/encoding headers that no longer describe a body we have already decoded.
_STALE_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


# ---------------------------------------------------------------- SSRF guard

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _resolve(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        return []  # unresolvable: the request fails with connect_error, nothing to guard
    found = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    return list(dict.fromkeys(found))  # one entry per address, resolver order kept


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _check_scheme(url: str) -> None:
    scheme = urlsplit(str(url)).scheme
    if scheme not in ("http", "https"):
        raise UnsafeURLError(
            f"scheme {scheme!r} is not fetched; only http and https are",
            url=str(url),
            reason="unsafe_url",
        )


def safe_addresses(
    host: str, allowed_hosts: Iterable[str], url: str | None = None
) -> list[IPAddress]:
    """Resolve `host` once and return the addresses that may be connected to.

    Raises `UnsafeURLError` if any address is private/loopback/reserved and neither the host
    nor every address is in `allowed_hosts` (one bad answer taints the host). An unresolvable
    host gives [] (the connection then fails as connect_error).
    """
    host = host.lower().strip("[]")
    allowed = {h.lower() for h in allowed_hosts}
    addresses = _resolve(host)
    if host in allowed or (addresses and all(str(a) in allowed for a in addresses)):
        return addresses
    bad = [str(a) for a in addresses if not _is_public(a)]
    if bad:
        raise UnsafeURLError(
            f"host {host!r} resolves to non-public address {bad[0]}; add it to "
            "fetch.allowed_hosts if it is meant to be fetched",
            url=url or host,
            reason="unsafe_url",
        )
    return addresses


def check_url_safe(url: str, allowed_hosts: list[str] | tuple[str, ...]) -> None:
    """Raise `UnsafeURLError` if `url`'s host is private/loopback/reserved and not allowed.

    A pre-flight answer only: the client itself checks the addresses it connects to.
    """
    _check_scheme(url)
    safe_addresses(urlsplit(str(url)).hostname or "", allowed_hosts, str(url))


# ---------------------------------------------------------------- deadlines and pinning

# Monotonic time by which the current request must be done; set by `get` around each attempt
# (requests of the sync client run in their caller's thread, so a context variable follows them).
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "banwatch_request_deadline", default=None
)


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    """`timeout` cut to what is left of the request's deadline; `expired` if nothing is left."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("request deadline passed")
    return min(timeout if timeout is not None else math.inf, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write stops at the request's overall deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # httpcore passes the URL's hostname: SNI and certificate checks stay on the name.
        tls = self._inner.start_tls(
            ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(tls)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class PinnedBackend(httpcore.NetworkBackend):
    """Connects only to addresses it has itself resolved and checked (no second DNS lookup)."""

    def __init__(self, allowed_hosts: Iterable[str]) -> None:
        self._allowed = tuple(h.lower() for h in allowed_hosts)
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = safe_addresses(host, self._allowed)
        if not addresses:
            raise httpcore.ConnectError(f"host {host!r} could not be resolved")
        last: Exception | None = None
        for address in addresses:
            try:
                stream = self._sockets.connect_tcp(
                    str(address),
                    port,
                    _bounded(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
                continue
            logger.debug("connected to %s as %s:%d", host, address, port)
            return _DeadlineStream(stream)
        assert last is not None
        raise last

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class PinnedTransport(httpx.HTTPTransport):
    """httpx's transport over `PinnedBackend`. Never uses proxies from the environment: a proxy
    would resolve the host itself, out of the guard's sight."""

    def __init__(self, allowed_hosts: Iterable[str], limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(allowed_hosts),
        )


# ---------------------------------------------------------------- client


def make_client(settings: FetchSettings) -> httpx.Client:
    """An `httpx.Client` with banwatch's defaults; every connection and redirect is guarded."""

    def guard(request: httpx.Request) -> None:
        _check_scheme(str(request.url))  # addresses are checked by the transport, at connect

    limits = httpx.Limits(
        max_connections=max(1, settings.concurrency),
        max_keepalive_connections=max(1, settings.concurrency),
    )
    return httpx.Client(
        timeout=httpx.Timeout(settings.timeout),
        headers={"User-Agent": settings.user_agent},
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        transport=PinnedTransport(settings.allowed_hosts, limits),
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


@dataclass(frozen=True)
class _Request:
    """What every attempt at one URL repeats."""

    client: httpx.Client
    url: str
    settings: FetchSettings
    headers: Mapping[str, str] | None
    check: Callable[[httpx.Response], None] | None
    budget_end: float  # monotonic time by which all attempts and waits must be done

    def attempt(self) -> httpx.Response:
        """One attempt, all of it (pool wait, connect, headers, body) done by its deadline."""
        deadline = min(time.monotonic() + max(0.0, self.settings.request_deadline), self.budget_end)
        left = max(0.0, deadline - time.monotonic())
        timeout = httpx.Timeout(min(self.settings.timeout, left))
        token = _DEADLINE.set(deadline)
        try:
            with self.client.stream(
                "GET", self.url, headers=self.headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    return response  # only the status matters; the unread body is dropped
                if self.check is not None and response.status_code != 304:
                    self.check(response)
                body = _read_capped(response, self.settings.max_bytes)
        finally:
            _DEADLINE.reset(token)
        fresh = [(k, v) for k, v in response.headers.multi_items() if k not in _STALE_HEADERS]
        result = httpx.Response(
            response.status_code,
            headers=fresh,
            content=body,
            request=response.request,
            extensions=response.extensions,
        )
        result.history = response.history
        return result


class _WaitRetryAfter(wait_base):
    """The server's Retry-After when it gives one, else `fallback`; never above `cap`."""

    def __init__(self, fallback: wait_base, cap: float) -> None:
        self._fallback = fallback
        self._cap = cap

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        wait = None
        if outcome is not None and not outcome.failed:
            wait = retry_after_seconds(outcome.result().headers.get("retry-after"))
        if wait is None:
            wait = self._fallback(retry_state)
        return min(wait, self._cap)


def _retryable(response: httpx.Response) -> bool:
    return response.status_code in RETRY_STATUSES


def _timed_out(url: str, settings: FetchSettings, retry_state: RetryCallState) -> httpx.ReadTimeout:
    """The timeout to raise once the attempts or the budget are spent, naming the limits."""
    return httpx.ReadTimeout(
        f"no complete answer from {url} after {retry_state.attempt_number} attempt(s) in "
        f"{retry_state.seconds_since_start or 0.0:.1f} s (fetch.timeout {settings.timeout:g} s, "
        f"fetch.request_deadline {settings.request_deadline:g} s, "
        f"fetch.retry_budget {settings.retry_budget:g} s)"
    )


def _retrying(url: str, settings: FetchSettings) -> Retrying:
    """Retry timeouts, 429 and 5xx: the server's Retry-After or exponential backoff, each wait
    capped at `fetch.retry_max_wait`; stop after `fetch.retries` or before a wait that would
    end past `fetch.retry_budget`."""

    def log_retry(retry_state: RetryCallState) -> None:
        outcome = retry_state.outcome
        assert outcome is not None
        what = outcome.exception() or f"status {outcome.result().status_code}"
        logger.debug(
            "%s: %s (attempt %d), next in %.2f s",
            url,
            what,
            retry_state.attempt_number,
            retry_state.upcoming_sleep,
        )

    def give_up(retry_state: RetryCallState) -> httpx.Response:
        outcome = retry_state.outcome
        assert outcome is not None
        exc = outcome.exception()
        if exc is None:
            return outcome.result()  # a 429/5xx: `get` reports the server's answer
        if isinstance(exc, httpx.TimeoutException):
            raise _timed_out(url, settings, retry_state) from exc
        raise exc

    return Retrying(
        stop=stop_after_attempt(max(0, settings.retries) + 1)
        | stop_before_delay(max(0.0, settings.retry_budget)),
        wait=_WaitRetryAfter(
            wait_exponential(multiplier=settings.retry_backoff, exp_base=2), settings.retry_max_wait
        ),
        retry=retry_if_exception_type(httpx.TimeoutException) | retry_if_result(_retryable),
        before_sleep=log_retry,
        retry_error_callback=give_up,
        sleep=time.sleep,
    )


def get(
    client: httpx.Client,
    url: str,
    *,
    settings: FetchSettings,
    headers: Mapping[str, str] | None = None,
    check: Callable[[httpx.Response], None] | None = None,
) -> httpx.Response:
    """GET `url` under banwatch's rules; returns a fully read response (2xx or 304).

    Each attempt ends by `fetch.request_deadline`, all attempts and waits by
    `fetch.retry_budget`; no wait is started that the budget could not cover. `check` sees
    the response before its body is downloaded (e.g. to refuse a PDF by its content type)
    and raises `FetchError` to stop. Raises `UnsafeURLError`, `FetchError` ("too_large"),
    `httpx.HTTPStatusError` after retries, `httpx.TimeoutException` (deadline, budget or
    timeout), or another `httpx.HTTPError`.
    """
    _check_scheme(url)
    budget_end = time.monotonic() + max(0.0, settings.retry_budget)
    request = _Request(client, url, settings, headers, check, budget_end)
    response = _retrying(url, settings)(request.attempt)
    if response.status_code >= 400:  # (raise_for_status would also reject a 304)
        response.raise_for_status()
    return response


# ---------------------------------------------------------------- outcomes

_HARD_FETCH_REASONS = {"too_large", "unsafe_url", "not_html", "not_a_feed", "malformed"}


# Transport failures by class, most specific first (TimeoutException before HTTPError).
_ExcTypes = type[BaseException] | tuple[type[BaseException], ...]
_TRANSPORT_OUTCOMES: tuple[tuple[_ExcTypes, Outcome, str], ...] = (
    (httpx.TimeoutException, Outcome.TEMPORARY, "timeout"),
    (httpx.TooManyRedirects, Outcome.HARD, "too_many_redirects"),
    (httpx.ConnectError, Outcome.TEMPORARY, "connect_error"),
    (
        (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError),
        Outcome.TEMPORARY,
        "protocol_error",
    ),
    ((httpx.UnsupportedProtocol, httpx.InvalidURL), Outcome.HARD, "bad_url"),
    (httpx.HTTPError, Outcome.TEMPORARY, "http_error"),
)


def exception_to_outcome(exc: BaseException) -> tuple[Outcome, str, int | None]:
    """Map an exception from `get` (or parsing) to (outcome, fixed reason, HTTP status)."""
    if isinstance(exc, FetchError):
        outcome = Outcome.HARD if exc.reason in _HARD_FETCH_REASONS else Outcome.TEMPORARY
        return outcome, exc.reason, exc.status_code
    if isinstance(exc, httpx.HTTPStatusError):
        code = exc.response.status_code
        temporary = code in RETRY_STATUSES or code >= 500 or code == 408
        return (Outcome.TEMPORARY if temporary else Outcome.HARD), f"http_{code}", code
    for kinds, outcome, reason in _TRANSPORT_OUTCOMES:
        if isinstance(exc, kinds):
            return outcome, reason, None
    return Outcome.HARD, "error", None


def describe(exc: BaseException) -> str:
    """One human-readable line for the `error` column."""
    text = (str(exc) or type(exc).__name__).strip().splitlines()[0]
    return f"{type(exc).__name__}: {text}"[:500]
