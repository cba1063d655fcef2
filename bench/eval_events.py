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
import unicodedata
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
RECENCY_DAYS = 14  # as the e2e config: alerts.recency_days


def _published(row: dict[str, str]) -> dt.datetime:
    return dt.datetime.fromisoformat(row["published"].replace("Z", "+00:00"))


def article_mode(
    articles: list[dict[str, str]], min_confidence: float = 0.5, catalogue=None
) -> tuple[list[PredictedEvent], float]:
    """Detect on headline + lead, then resolve events exactly as the load step does
    (`enrich.novelty`), each article first seen when it was published (`--replay`)."""
    from enrich.detect import detect_text
    from enrich.novelty import inherit_scopes, resolve_events

    rows = sorted(articles, key=_published)
    by_id = {row["item_id"]: row for row in rows}
    detections = []
    started = time.process_time()
    for row in rows:
        found = detect_text(
            row["headline"],
            row["lead"],
            _published(row),
            article_id=row["item_id"],
            catalogue=catalogue,
            language=row["lang"],
        )
        detections += [d for d in found if d.confidence >= min_confidence]
    detections = inherit_scopes(detections, {})
    resolution = resolve_events(
        detections,
        {},
        seen_at={r["item_id"]: _published(r) for r in rows},
        recency_days=RECENCY_DAYS,
        urls={r["item_id"]: r["item_id"] for r in rows},
        outlets={r["item_id"]: r["outlet"] for r in rows},
    )
    cpu = time.process_time() - started
    sources: dict[str, set[str]] = defaultdict(set)
    for src in resolution.sources:
        sources[src.event_id].add(src.article_id)
    events = []
    for e in resolution.new_events:
        ev = PredictedEvent(
            e.country, e.subdivision, e.app, e.scope, e.action, e.announced_on,
            e.confidence, e.evidence,
        )  # fmt: skip
        for article_id in sources[e.event_id]:
            ev.article_ids.add(article_id)
            ev.languages.add(by_id[article_id]["lang"])
            ev.labels.add(by_id[article_id]["label"])
        events.append(ev)
    return events, cpu


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
                outlet=_outlet_slug(row["outlet"]),
                slug=row["item_id"],
                title=row["headline"],
                summary=row["lead"][:300],
                published=_published(row),
                html=page,
            )
        )
    return items


def _outlet_slug(outlet: str) -> str:
    """A URL path segment for an outlet name: "Le Veilleur Numérique" -> "le-veilleur-numerique"."""
    ascii_name = unicodedata.normalize("NFKD", outlet).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "outlet"


def _slug(url: str | None) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1].split(".")[0] if url else ""


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
            outlets = sorted({_outlet_slug(r["outlet"]) for r in articles})
            newsroom.open_outlets(outlets)  # an outlet's feed exists before its first story
            newsroom.add(_news_items(by_phase[phases[0]]))
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
        sources = defaultdict(set)
        for event_id, url in con.execute(
            "select s.event_id, a.url from event_sources s join articles a using (article_id)"
        ).fetchall():
            sources[event_id].add(_slug(url))
        con.close()
        emails = [
            m.get("Subject", "") + "\n" + m.get_body(("plain",)).get_content()
            for m in sink.messages
        ]
    by_slug = {r["item_id"]: r for r in articles}
    events = []
    for event_id, country, sub, app, scope, action, announced, conf, evidence, url in rows:
        ev = PredictedEvent(
            country, sub, app, scope, action, announced, float(conf or 0), evidence or ""
        )
        for slug in sources[event_id] | {_slug(url)}:
            row = by_slug.get(slug)
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
    if args.mode == "e2e":
        print("\n".join(report.email_lines()))
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
