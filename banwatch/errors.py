"""One exception root for banwatch; subclasses carry context and end in an actionable sentence."""

from __future__ import annotations


class BanwatchError(Exception):
    """Root of every error banwatch raises on purpose. `str()` is one line a user can act on."""


class ConfigError(BanwatchError):
    """The config file is missing, unreadable or has a bad key or value."""

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None):
        self.path = path
        self.key = key
        where = f"{path}: " if path else ""
        what = f"{key}: " if key else ""
        super().__init__(f"{where}{what}{message}")


class FetchError(BanwatchError):
    """A feed or page could not be fetched. Recorded on the feed/article, never fatal to a pass."""

    def __init__(self, message: str, *, url: str, reason: str, status_code: int | None = None):
        self.url = url
        self.reason = reason
        self.status_code = status_code
        super().__init__(f"{url}: {message}")


class UnsafeURLError(FetchError):
    """The URL points at a private or loopback address that is not in `fetch.allowed_hosts`."""


class WarehouseError(BanwatchError):
    """The DuckDB file cannot be opened or migrated."""


class AlertError(BanwatchError):
    """An alert email could not be sent; it stays in the outbox and is retried next pass."""
