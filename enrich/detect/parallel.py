"""Candidate finding in worker processes: the detector's costly part, spread over the cores.

Finding candidates is per article and pure Python (regexes, gazetteers), so one process does it
on one core while the others idle; a pass over 774 real pages spent 13.5 core-ms per article
there after the extraction workers had finished (docs/performance.md). When a pool of worker
processes already exists in this process (`banwatch run` starts one for extraction:
`ingest.extract_pool`), the articles go to it in chunks; only their title, text, date, language
and feed country travel, not the stored page. The decision (features, model, confidence) stays
in the calling process: it is one vectorised call over the whole batch.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from typing import NamedTuple

from banwatch.enrich.apps import AppCatalogue
from banwatch.enrich.detect.article import Candidate, find_candidates

from banwatch.records import Article

logger = logging.getLogger(__name__)

CHUNK = 16  # articles per task: large enough to amortise pickling, small enough to balance
MIN_ARTICLES = 2 * CHUNK  # below this the workers' round trips cost more than they save


class Job(NamedTuple):
    """What finding one article's candidates needs."""

    article_id: str
    title: str
    text: str
    published: dt.datetime | None
    language: str | None
    home_country: str | None


# per article: its candidates, or None when finding them failed
Found = list[Candidate] | None


def jobs(articles: Sequence[Article], feed_countries: Mapping[str, str] | None) -> list[Job]:
    countries = feed_countries or {}
    return [
        Job(
            a.article_id,
            a.title,
            a.text,
            a.published_at or a.fetched_at,
            a.language,
            countries.get(a.feed_name),
        )
        for a in articles
    ]


def find_one(job: Job, catalogue: AppCatalogue) -> Found:
    try:
        return find_candidates(
            job.title,
            job.text,
            job.published,
            article_id=job.article_id,
            catalogue=catalogue,
            language=job.language,
            home_country=job.home_country,
        )
    except Exception:  # one odd page must not stop the batch
        logger.exception("detection failed for article %s", job.article_id)
        return None


def _chunk(chunk: list[Job], catalogue: AppCatalogue) -> list[Found]:
    """In a worker: the candidates of each job, in order."""
    return [find_one(job, catalogue) for job in chunk]


def find_all(todo: list[Job], catalogue: AppCatalogue, pool: Executor | None = None) -> list[Found]:
    """Every job's candidates, in order: in `pool`'s workers when given and worth it, else here.
    A broken pool (a worker killed) costs nothing but time: the batch is done here."""
    if pool is None or len(todo) < MIN_ARTICLES:
        return [find_one(job, catalogue) for job in todo]
    chunks = [todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)]
    try:
        futures = [pool.submit(_chunk, c, catalogue) for c in chunks]
        return [found for f in futures for found in f.result()]
    except (BrokenProcessPool, RuntimeError) as exc:  # RuntimeError: the pool was shut down
        logger.warning("detection workers unavailable (%s): detecting in this process", exc)
        return [find_one(job, catalogue) for job in todo]
