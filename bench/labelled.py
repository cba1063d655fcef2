"""The labelled sets, found where they live, for fitting and measuring the detector.

    shared eval        ../shared/eval           (beside the clone; /work/shared on a dev machine)
    shared fulltext    ../shared/eval-fulltext
    dev set            bench/devset
    held-out           bench/holdout

All four are development data now: the detector's model is fitted on them with folds grouped by
situation, and only cross-validated figures estimate unseen news (docs/detection.md).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

SET_NAMES = ("eval", "eval-fulltext", "devset", "holdout")


def set_dirs() -> dict[str, Path]:
    """Every labelled set present on this machine, by name (`bench.eval_events` finds them)."""
    from bench.eval_events import resolve_eval_dir

    found = {}
    for name in SET_NAMES:
        try:
            found[name] = resolve_eval_dir(name)
        except SystemExit:  # a shared set this machine does not have
            continue
    return found


def read_set(path: Path) -> tuple[list[dict[str, str]], dict[str, dict[str, str]]]:
    """(article rows, gold events by id) of one set, ids prefixed by nothing (they are unique)."""
    lines = (path / "articles.tsv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:] if line]
    with (path / "events.csv").open(encoding="utf-8", newline="") as fh:
        gold = {r["event_id"]: r for r in csv.DictReader(fh)}
    return rows, gold


def set_files(dirs: Mapping[str, Path]) -> list[str]:
    return [str(d / f) for d in dirs.values() for f in ("articles.tsv", "events.csv")]
