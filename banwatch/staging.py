"""Staging files: the records passed between a pass's steps, in a data format, never pickles.

Steps (and Airflow tasks, in other processes and maybe after an upgrade) hand batches over as
files in the run's staging directory. Pickles would break on a retry after an upgrade that
renamed a class, and unpickling a file from a shared directory runs whatever code it names. So
records are JSON lines and the embedding matrix is a `.npy` file written with
`allow_pickle=False`: reading either runs no code and builds only the record types listed in
`RECORD_TYPES`.

A JSON-lines file starts with a header line `{"banwatch_staging": 1, "meta": {...}}` (plain
JSON metadata of the step), then one record a line: `{"type": "Article", "data": {...}}`.
Fields are encoded by their declared type: datetimes and dates as ISO 8601, bytes as base64,
enums by value, nested dataclasses as objects. Decoding follows the dataclass's current type
hints, so a field added later with a default reads old files, and an unknown field is ignored.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import functools
import json
import os
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from banwatch.errors import BanwatchError
from banwatch.records import Article, Detection, FeedResult, FeedState, ParsedEntry, StoryAssignment

FORMAT_VERSION = 1
RECORD_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (FeedState, FeedResult, ParsedEntry, Article, StoryAssignment, Detection)
}


if TYPE_CHECKING:
    import numpy as np


class StagingError(BanwatchError):
    """A staging file cannot be read (truncated, another format, an unknown record type)."""


# ---------------------------------------------------------------- encoding


def encode(value: Any) -> Any:
    """A JSON-able form of `value` (records, datetimes, bytes, enums, containers)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date):  # datetimes too: both have isoformat()
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list | tuple | set | frozenset):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(tp: Any, value: Any) -> Any:
    """Rebuild a value of declared type `tp` from its `encode`d form."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return (
            None if value is None else decode(next(a for a in args if a is not type(None)), value)
        )
    if value is None:
        return None
    if origin in (list, tuple, set, frozenset):
        inner = args[0] if args else Any
        return (origin or list)(decode(inner, v) for v in value)
    if origin is dict:
        return {k: decode(args[1], v) for k, v in value.items()}
    return _scalar(tp, value)


# How a scalar's encoded form is read back, by declared type (others are JSON already).
_SCALARS: dict[Any, Callable[[Any], Any]] = {
    dt.datetime: dt.datetime.fromisoformat,
    dt.date: dt.date.fromisoformat,
    bytes: base64.b64decode,
    float: float,
}


def _scalar(tp: Any, value: Any) -> Any:
    """A record, an enum member (an unknown value fails), or a datetime, date, bytes, float."""
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _record(tp, value)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(value)
    convert = _SCALARS.get(tp)
    return convert(value) if convert else value


def _record(cls: type, data: dict[str, Any]) -> Any:
    hints = _hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    return cls(**{k: decode(hints[k], v) for k, v in data.items() if k in fields})


# ---------------------------------------------------------------- files


def _atomic(path: Path, write: Any) -> str:
    """Write through a temporary name and rename: a killed step never leaves a half file."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)
    return str(path)


def write_records(
    path: str | os.PathLike[str], records: Iterable[Any], meta: dict[str, Any] | None = None
) -> str:
    """Write `records` (instances of `RECORD_TYPES`) as JSON lines after a header with `meta`."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            header = {"banwatch_staging": FORMAT_VERSION, "meta": encode(meta or {})}
            fh.write(json.dumps(header, ensure_ascii=False) + "\n")
            for record in records:
                name = type(record).__name__
                if RECORD_TYPES.get(name) is not type(record):
                    raise TypeError(f"{name} is not a staging record type")
                line = {"type": name, "data": encode(record)}
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")

    return _atomic(Path(path), write)


def read_records(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[Any]]:
    """The header's metadata and the records of a file written by `write_records`."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            try:
                header = json.loads(fh.readline() or "null")
            except ValueError:  # a pickle, or any other binary file: not decoded, not run
                header = None
            if not isinstance(header, dict) or header.get("banwatch_staging") != FORMAT_VERSION:
                raise StagingError(
                    f"{path}: not a banwatch staging file of format {FORMAT_VERSION}; "
                    "remove the run's staging directory and run the pass again"
                )
            records = []
            for number, line in enumerate(fh, start=2):
                item = json.loads(line)
                cls = RECORD_TYPES.get(item.get("type"))
                if cls is None:
                    raise StagingError(f"{path}:{number}: unknown record type {item.get('type')!r}")
                records.append(_record(cls, item["data"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StagingError(
            f"{path}: cannot read staging file ({exc}); run the pass again to rebuild it"
        ) from None
    return header.get("meta", {}), records


def write_matrix(path: str | os.PathLike[str], matrix: np.ndarray) -> str:
    """Save a numeric matrix as `.npy` (no pickled objects allowed)."""
    import numpy as np

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, np.asarray(matrix), allow_pickle=False)

    return _atomic(Path(path), write)


def read_matrix(path: str | os.PathLike[str]) -> np.ndarray:
    """Load a matrix saved by `write_matrix`; refuses object arrays (they would be pickles)."""
    import numpy as np

    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise StagingError(f"{path}: cannot read matrix ({exc}); run the pass again") from None
