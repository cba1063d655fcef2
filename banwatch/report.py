"""`banwatch report`: one self-contained HTML page of charts and tables over the warehouse.

The page needs no network when it is opened: plotly.js is inlined once (not once per chart) and
the CSS sits in the template, so it can be mailed (the digest attaches it) or kept as a file.
Titles and evidence are untrusted page text: the jinja2 template autoescapes everything, only
http(s) URLs become links, and plotly escapes `</` in the chart data it embeds.

Countries are a bar chart, not a map: plotly's choropleth fetches its world topojson from
plotly's CDN when the page is viewed, and the topojson ships only in plotly.js's npm package,
not in the Python wheel; no well-kept PyPI package carries country shapes for it to draw
offline. A map can be added by inlining that file as `window.PlotlyGeoAssets`.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import jinja2

from banwatch.alerts.compose import is_web_url, outlet_name
from banwatch.errors import BanwatchError
from banwatch.warehouse import report_queries as q

logger = logging.getLogger(__name__)

DEFAULT_MONTHS = 24
TOP_APPS = 10
TOP_COUNTRIES = 20
NEWEST_EVENTS = 25
CANDIDATES_SHOWN = 50
SOURCES_SHOWN = 8  # outlets listed per event; the rest are counted

# Colour-blind-safe (Okabe-Ito) colours, one per action, in the order the legend shows them.
ACTIONS = {"ban": "#D55E00", "proposed": "#E69F00", "lifted": "#009E73"}
SCOPES = {"government_devices": "government devices", "nationwide": "nationwide"}
PLOT_CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": False}
FAILED_OUTCOMES = {"hard", "temporary"}


def country_name(code: str | None) -> str:
    """'GB' -> 'United Kingdom', 'EU' -> 'European Union'; an unknown code stays as it is."""
    import pycountry

    if not code:
        return "unknown"
    if code.upper() == "EU":
        return "European Union"
    found = pycountry.countries.get(alpha_2=code.upper())
    return getattr(found, "common_name", None) or (found.name if found else code)


def window_start(today: dt.date, months: int) -> dt.date:
    """First day of the month `months - 1` months before `today`'s (months=1: this month)."""
    index = today.year * 12 + today.month - 1 - (months - 1)
    return dt.date(index // 12, index % 12 + 1, 1)


def _month_labels(since: dt.date, today: dt.date) -> list[dt.date]:
    months, day = [], since
    while day <= today:
        months.append(day)
        day = window_start(day, 0)  # the next month's first day
    return months


def _stacked_bars(
    categories: Sequence[str],
    counts: Mapping[tuple[str, str], int],
    *,
    horizontal: bool,
    title: str,
) -> Any:
    """A bar per category stacked by action; `counts` maps (category, action) to events."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for action, colour in ACTIONS.items():
        values = [counts.get((c, action), 0) for c in categories]
        if not any(values):
            continue
        axes = (
            {"y": list(categories), "x": values}
            if horizontal
            else {"x": list(categories), "y": values}
        )
        fig.add_trace(
            go.Bar(name=action, marker_color=colour, orientation="h" if horizontal else "v", **axes)
        )
    height = max(260, 60 + 26 * len(categories)) if horizontal else 320
    fig.update_layout(
        title={"text": title, "x": 0, "font": {"size": 15}},
        barmode="stack",
        template="plotly_white",
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={
            "orientation": "h",
            "traceorder": "normal",  # plotly reverses a stack's legend by default
            "y": -0.15 if not horizontal else -40 / height,
        },
        font={"family": "system-ui, sans-serif", "size": 12},
    )
    if horizontal:
        fig.update_yaxes(autorange="reversed", automargin=True)
        fig.update_xaxes(dtick=1 if max(counts.values(), default=0) < 10 else None)
    else:
        fig.update_xaxes(type="category")
        fig.update_yaxes(dtick=1 if max(counts.values(), default=0) < 10 else None)
    return fig


def _chart_html(fig: Any, div_id: str) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOT_CONFIG)


def charts(con: duckdb.DuckDBPyConnection, since: dt.date, today: dt.date) -> list[dict[str, str]]:
    """The three charts as HTML fragments (a div and the script that draws into it)."""
    per_month = q.events_per_month(con, since)
    months = _month_labels(since, today)
    label = {m: m.strftime("%Y-%m") for m in months}
    month_counts = {
        (label.get(r["month"], r["month"].strftime("%Y-%m")), r["action"]): r["events"]
        for r in per_month
    }
    by_app = q.events_by_app(con, since, TOP_APPS)
    by_country = q.events_by_country(con, since, TOP_COUNTRIES)
    country_label = {r["country"]: country_name(r["country"]) for r in by_country}
    figures = [
        (
            "chart-months",
            _stacked_bars(
                [label[m] for m in months],
                month_counts,
                horizontal=False,
                title="Events per month, by action",
            ),
        ),
        (
            "chart-apps",
            _stacked_bars(
                list(dict.fromkeys(r["app"] for r in by_app)),
                {(r["app"], r["action"]): r["events"] for r in by_app},
                horizontal=True,
                title=f"Top {TOP_APPS} apps",
            ),
        ),
        (
            "chart-countries",
            _stacked_bars(
                list(dict.fromkeys(country_label[r["country"]] for r in by_country)),
                {(country_label[r["country"]], r["action"]): r["events"] for r in by_country},
                horizontal=True,
                title="Countries",
            ),
        ),
    ]
    return [{"id": div_id, "html": _chart_html(fig, div_id)} for div_id, fig in figures]


def _sources(rows: Sequence[Mapping[str, Any]] | None) -> tuple[list[dict[str, Any]], int]:
    """One link per outlet (its most confident article), at most SOURCES_SHOWN, and the rest."""
    by_outlet: dict[str, dict[str, Any]] = {}
    for s in rows or ():
        name = outlet_name(s)
        by_outlet.setdefault(
            name, {"name": name, "url": s["url"] if is_web_url(s["url"]) else None}
        )
    shown = list(by_outlet.values())
    return shown[:SOURCES_SHOWN], max(0, len(shown) - SOURCES_SHOWN)


def _event_row(e: Mapping[str, Any]) -> dict[str, Any]:
    sources, more = _sources(e.get("sources"))
    where = country_name(e["country"])
    return {
        **e,
        "where": e["jurisdiction"]
        if e["jurisdiction"] == where
        else f"{e['jurisdiction']}, {where}",
        "scope_words": SCOPES.get(e["scope"], "other restriction"),
        "url": e["url"] if is_web_url(e["url"]) else None,
        "links": sources,
        "more_sources": more,
    }


def _feed_row(feed: Mapping[str, Any]) -> dict[str, Any]:
    failing = (feed.get("failure_count") or 0) > 0 or feed.get("last_outcome") in FAILED_OUTCOMES
    return {"cells": dict(feed), "failing": failing}


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("banwatch", "templates"),
        autoescape=True,  # titles, evidence and feed errors are untrusted page text
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["cell"] = _cell
    return env


@functools.cache
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def build_report(
    con: duckdb.DuckDBPyConnection,
    *,
    months: int = DEFAULT_MONTHS,
    generated_at: dt.datetime | None = None,
) -> str:
    """The report's HTML, read from `con` (the snapshot, or the writer's file)."""
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    today = generated_at.astimezone(dt.UTC).date()
    since = window_start(today, months)
    total = q.event_count(con)
    feeds = q.feed_health(con)
    context = {
        "generated_at": generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "last_pass": q.last_pass(con),
        "months": months,
        "since": since,
        "total": total,
        "candidate_total": q.candidate_count(con),
        "charts": charts(con, since, today) if total else [],
        "events": [_event_row(e) for e in q.newest_events(con, NEWEST_EVENTS)],
        "candidates": [_event_row(e) for e in q.review_candidates(con, CANDIDATES_SHOWN)],
        "feed_columns": list(feeds[0]) if feeds else [],
        "feeds": [_feed_row(f) for f in feeds],
        "failing_feeds": sum(1 for f in feeds if _feed_row(f)["failing"]),
        "plotly_js": _plotly_js() if total else "",
    }
    return _environment().get_template("report.html.j2").render(context)


def write_report(html: str, out: str | os.PathLike[str]) -> Path:
    """Write `html` to `out` atomically (a reader never sees half a page)."""
    target = Path(out)
    tmp_name = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=target.parent, prefix=f".{target.name}.", delete=False
        ) as tmp:
            tmp_name = tmp.name
            tmp.write(html)
        os.chmod(tmp_name, 0o644)  # a page to share, not the 0600 of a temporary file
        os.replace(tmp_name, target)
    except OSError as exc:
        if tmp_name:
            Path(tmp_name).unlink(missing_ok=True)
        raise BanwatchError(
            f"{target}: cannot write the report ({exc.strerror or exc}); pass --out with a "
            "file in a directory you can write"
        ) from None
    logger.info("report written to %s (%d bytes)", target, len(html.encode()))
    return target
