"""Canonical article URLs and the stable article id derived from them.

The same article reaches banwatch through several feeds, with and without tracking parameters
(`utm_*`, `fbclid`, ...), fragments and differently cased hosts; the canonical URL makes those one
article. courlan does the normalisation; we only add fragment removal and a safe fallback.
"""

from __future__ import annotations

import hashlib
import logging
from urllib.parse import urldefrag

import courlan

logger = logging.getLogger(__name__)


def canonical_url(url: str) -> str:
    """Normalise scheme/host/port/query order and strip tracking parameters and the fragment.

    Non-tracking query parameters are kept (`?id=3` may be the article itself); courlan's strict
    mode would drop them, so the default mode is used.
    """
    url = url.strip()
    try:
        normalised = courlan.normalize_url(url)
    except (ValueError, AttributeError) as exc:  # courlan raises on odd ports, IPv6 literals...
        logger.debug("cannot normalise %s (%s); keeping it as given", url, exc)
        normalised = url
    return urldefrag(normalised).url


def article_id(url: str) -> str:
    """Stable id of an article: the first 16 hex chars of the sha1 of its canonical URL."""
    return hashlib.sha1(canonical_url(url).encode("utf-8")).hexdigest()[:16]
