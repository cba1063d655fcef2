"""Quality bench for ban-event detection on the labelled set (`/work/shared/eval`).

    python -m bench.eval_events --mode article            # fast: detector only
    python -m bench.eval_events --mode e2e                # the real pipeline, end to end
    python -m bench.eval_events --mode article --details  # list every miss and false alarm

article mode runs `detect_text` over the headline and lead of every article and groups the
news (non-background) detections into events the way the warehouse does: per situation
(country, subdivision, app, scope, body), a detection with the same action as the
situation's latest event, close in time, is more coverage of it; anything else is a new event.

e2e mode serves the set from a loopback `Newsroom` (phase 1, then phase 2), runs
`banwatch run --replay` after each phase against an aiosmtpd sink, and scores the `ban_events`
view of the DuckDB file, plus emails per event (must be exactly 1 per gold event, 0 otherwise).

The labelled set is for MEASURING only: never copy its rows into tests, never add a rule for
one row. Scoring lives in `bench/scoring.py`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.scoring import (
    NEGATIVE_LABELS,
    GoldEvent,
    PredictedEvent,
    Report,
    load_gold,
    score,
)
from enrich.apps import AppCatalogue

EVAL_DIR = Path("/work/shared/eval")
SAME_EVENT_DAYS = 45  # same action on a situation within this many days = more coverage


def _published(row: dict[str, str]) -> dt.datetime:
    return dt.datetime.fromisoformat(row["published"].replace("Z", "+00:00"))


def article_mode(
    articles: list[dict[str, str]], min_confidence: float = 0.5, catalogue=None
) -> tuple[list[PredictedEvent], float]:
    """Detect on headline + lead, then group news detections into events."""
    from enrich.detect import detect_text
    from enrich.novelty import inherit_scopes

    rows = sorted(articles, key=_published)
    by_id = {row["item_id"]: row for row in rows}
    detections = []
    started = time.process_time()
    for row in rows:
        detections += detect_text(
            row["headline"],
            row["lead"],
            _published(row),
            article_id=row["item_id"],
            catalogue=catalogue,
        )
    # as the load step does: an unscoped lifting continues the ban in force
    detections = inherit_scopes(detections, {})
    found = [
        (d, by_id[d.article_id])
        for d in detections
        if not d.background and d.confidence >= min_confidence
    ]
    cpu = time.process_time() - started
    return group_events(found), cpu


def group_events(found: list) -> list[PredictedEvent]:
    """Per situation, same action close in time joins the latest event; else a new event."""
    latest: dict[tuple, tuple[PredictedEvent, dt.date]] = {}
    events: list[PredictedEvent] = []
    for d, row in sorted(found, key=lambda x: x[0].announced_on or _published(x[1]).date()):
        when = d.announced_on or _published(row).date()
        situation = d.situation
        cur = latest.get(situation)
        if cur and cur[0].action == d.action and (when - cur[1]).days <= SAME_EVENT_DAYS:
            ev = cur[0]
            ev.confidence = max(ev.confidence, d.confidence)
            latest[situation] = (ev, when)
        else:
            ev = PredictedEvent(
                country=d.country,
                subdivision=d.subdivision,
                app=d.app,
                scope=d.scope,
                action=d.action,
                announced_on=d.announced_on,
                confidence=d.confidence,
                evidence=d.evidence,
            )
            events.append(ev)
            latest[situation] = (ev, when)
        ev.article_ids.add(row["item_id"])
        ev.languages.add(row["lang"])
        ev.labels.add(row["label"])
    return events


def _same_app(written: str, canonical: str) -> bool:
    """An app outside the catalogue is reported by the name news used ("PUBG" for "PUBG
    Mobile"): it counts when one name contains the other or they share a word."""
    w, c = written.casefold(), canonical.casefold()
    words = {x for x in re.findall(r"[\w.]+", w) if len(x) >= 3}
    return w in c or c in w or bool(words & set(re.findall(r"[\w.]+", c)))


def outside_catalogue(
    articles: list[dict[str, str]], gold: list[GoldEvent], min_confidence: float = 0.5
) -> tuple[int, int, list[str]]:
    """Recall on apps the catalogue does not know, estimated by leaving each app out in turn.

    The labelled set's apps are all in the built-in catalogue, so for each gold app the bench
    removes it (with its aliases) from the catalogue and runs article mode over the articles
    about it. A gold event is found when a prediction has its country, subdivision, scope and
    action and names the app recognisably (`_same_app`).
    """
    from enrich.apps import default_catalogue

    full = default_catalogue()
    found, total, misses = 0, 0, []
    for app in sorted({g.app for g in gold}):
        events = [g for g in gold if g.app == app]
        ids = set().union(*(g.article_ids for g in events))
        rows = [r for r in articles if r["item_id"] in ids]
        without = AppCatalogue.from_entries(a for a in full.apps.values() if a.name != app)
        predicted, _ = article_mode(rows, min_confidence, catalogue=without)
        for g in events:
            total += 1
            hit = any(
                (p.country, p.subdivision or "", p.scope, p.action)
                == (g.country, g.subdivision or "", g.scope, g.action)
                and _same_app(p.app, g.app)
                for p in predicted
            )
            found += hit
            if not hit:
                near = sorted({p.app for p in predicted}) or ["nothing"]
                misses.append(f"  OUTSIDE MISS {g.event_id} {g.key} | found {', '.join(near)}")
    return found, total, misses


# --- end to end ------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="{published}"></head>
<body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>{title}</h1><p class="byline">{outlet} staff</p>
{paragraphs}
</article><footer>(c) {outlet}</footer></body></html>
"""


def _news_items(rows: list[dict[str, str]]) -> list:
    from banwatch.newsroom import NewsItem

    items = []
    for row in rows:
        paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in row["lead"].split("\n") if p)
        page = _PAGE.format(
            lang=row["lang"],
            title=html.escape(row["headline"]),
            published=row["published"],
            outlet=html.escape(row["outlet"]),
            paragraphs=paragraphs,
        )
        items.append(
            NewsItem(
                outlet=row["outlet"],
                slug=row["item_id"],
                title=row["headline"],
                summary=row["lead"][:300],
                published=_published(row),
                html=page,
            )
        )
    return items


def e2e_mode(articles: list[dict[str, str]]) -> tuple[list[PredictedEvent], float]:
    """Serve the set, run `banwatch run --replay` per phase, read `ban_events` and emails."""
    try:
        from banwatch.mailsink import MailSink
        from banwatch.newsroom import Newsroom
    except ImportError as exc:  # pragma: no cover - depends on other helpers' modules
        raise NotImplementedError(f"e2e mode needs banwatch.newsroom / mailsink: {exc}") from exc
    import duckdb

    by_phase: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in articles:
        by_phase[row["phase"]].append(row)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink:
        newsroom = Newsroom().start()
        try:
            phases = sorted(by_phase)
            newsroom.add(_news_items(by_phase[phases[0]]))
            outlets = sorted({r["outlet"] for r in articles})
            config = Path(tmp) / "banwatch.toml"
            feeds = "\n".join(
                f'[[feeds]]\nname = "{o}"\nurl = "{newsroom.feed_url(o)}"\n' for o in outlets
            )
            config.write_text(
                f'[warehouse]\npath = "{tmp}/bw.duckdb"\n[staging]\ndir = "{tmp}/staging"\n'
                f'[fetch]\nallowed_hosts = ["127.0.0.1"]\n'
                f'[alerts]\nsmtp_host = "127.0.0.1"\nsmtp_port = {sink.port}\n'
                f"recency_days = 14\n{feeds}",
                encoding="utf-8",
            )
            for i, phase in enumerate(phases):
                if i:
                    newsroom.add(_news_items(by_phase[phase]))
                done = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "banwatch.cli",
                        "run",
                        "--replay",
                        "--config",
                        str(config),
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise NotImplementedError(
                        "`banwatch run --replay` failed or does not exist yet "
                        f"(exit {done.returncode}): {done.stderr.strip()[-500:]}"
                    )
                print(f"phase {phase}: {done.stdout.strip()}")
        finally:
            newsroom.stop()
        con = duckdb.connect(f"{tmp}/bw.duckdb", read_only=True)
        rows = con.execute(
            "select event_id, country, subdivision, app, scope, action, announced_on, "
            "confidence, evidence, url from ban_events"
        ).fetchall()
        con.close()
        emails = [
            m.get("Subject", "") + "\n" + m.get_body(("plain",)).get_content()
            for m in sink.messages
        ]
    by_slug = {r["item_id"]: r for r in articles}
    events = []
    for event_id, country, sub, app, scope, action, announced, conf, evidence, url in rows:
        slug = url.rstrip("/").rsplit("/", 1)[-1].split(".")[0] if url else ""
        row = by_slug.get(slug)
        ev = PredictedEvent(
            country, sub, app, scope, action, announced, float(conf or 0), evidence or ""
        )
        if row:
            ev.article_ids.add(row["item_id"])
            ev.languages.add(row["lang"])
            ev.labels.add(row["label"])
        ev.emails = sum(str(event_id) in body for body in emails)
        events.append(ev)
    print(f"emails sent: {len(emails)}")
    return events, time.time() - started


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("article", "e2e"), default="article")
    parser.add_argument("--eval-dir", default=str(EVAL_DIR))
    parser.add_argument("--details", action="store_true", help="list misses and false alarms")
    parser.add_argument(
        "--outside",
        action="store_true",
        help="also estimate recall on apps outside the catalogue (leave each app out in turn)",
    )
    args = parser.parse_args(argv)
    from enrich.apps import default_catalogue

    gold, articles = load_gold(args.eval_dir)
    if args.mode == "article":
        predicted, seconds = article_mode(articles)
    else:
        predicted, seconds = e2e_mode(articles)
    negatives = [a["label"] for a in articles if a["label"] in NEGATIVE_LABELS]
    report = score(
        predicted, gold, negative_articles=negatives, in_catalogue=default_catalogue().apps
    )
    print(
        f"mode {args.mode}: {len(articles)} articles, {len(gold)} gold events, "
        f"{len(predicted)} predicted events, {seconds:.2f} s"
    )
    for line in report.lines(details=args.details):
        print(line)
    if args.outside:
        found, total, misses = outside_catalogue(articles, gold)
        print(
            f"recall on apps left out of the catalogue (leave-one-app-out, article mode): "
            f"{found}/{total} = {found / max(total, 1):.3f}"
        )
        if args.details:
            print("\n".join(misses))
    return report


def gold_key(g: GoldEvent) -> tuple:
    return g.key


if __name__ == "__main__":
    main()
