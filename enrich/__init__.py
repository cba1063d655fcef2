"""banwatch enrich stage: embed articles, group them into stories, detect ban events, key them.

The stage verbs are imported lazily, so `import enrich` stays cheap (no torch) for Airflow's
DAG parsing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "dedupe_stories",
    "detect_ban_events",
    "embed_texts",
    "load_embedder",
    "resolve_events",
]

_HOMES = {
    "dedupe_stories": "banwatch.enrich.dedupe",
    "detect_ban_events": "banwatch.enrich.detect",
    "embed_texts": "banwatch.enrich.embed",
    "load_embedder": "banwatch.enrich.embed",
    "resolve_events": "banwatch.enrich.novelty",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'enrich' has no attribute {name!r}")
