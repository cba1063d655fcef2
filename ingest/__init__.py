"""banwatch ingest stage: poll feeds, fetch article pages, extract their text.

The stage verbs are imported lazily, so `import ingest` stays cheap (no trafilatura or httpx
import) for Airflow's DAG parsing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "article_id",
    "canonical_url",
    "extract_articles",
    "fetch_and_extract",
    "fetch_articles",
    "fetch_feeds",
    "make_client",
    "new_entries",
]

_HOMES = {
    "article_id": "banwatch.ingest.urls",
    "canonical_url": "banwatch.ingest.urls",
    "extract_articles": "banwatch.ingest.extract",
    "fetch_and_extract": "banwatch.ingest.extract",
    "fetch_articles": "banwatch.ingest.fetch",
    "fetch_feeds": "banwatch.ingest.feeds",
    "make_client": "banwatch.ingest.http",
    "new_entries": "banwatch.ingest.feeds",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
