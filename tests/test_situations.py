"""The analysts' views: `situations` (one row per situation: current state, since, history),
country names beside codes, `feed_health`, and a COMMENT on every column of every view.

Events are built with the store functions the load step uses (`resolve_events` +
`apply_resolution` on a real DuckDB file); feed health comes from real passes over a loopback
newsroom. The analysts' questions are one-line queries against the views.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from banwatch.enrich.novelty import resolve_events
from banwatch.warehouse import store

from banwatch import pipeline
from banwatch.config import settings_from_dict
from tests.support.factories import make_detection
from tests.support.newsroom import NewsItem
from tests.support.pages import article_page

SEEN = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)

# (article, days after SEEN it was first seen, detection fields); my own made-up history
STATES = [
    ("n1", 0, dict(country="NO", jurisdiction="Norway", action="ban", on=dt.date(2026, 6, 1))),
    ("n2", 40, dict(country="NO", jurisdiction="Norway", action="lifted", on=dt.date(2026, 7, 10))),
    (
        "e1",
        1,
        dict(
            country="EU",
            jurisdiction="European Commission",
            level="supranational",
            body="European Commission",
            action="ban",
            on=dt.date(2026, 6, 2),
        ),
    ),
    (
        "e2",
        3,
        dict(
            country="EU",
            jurisdiction="European Parliament",
            level="supranational",
            body="European Parliament",
            action="proposed",
            app="DeepSeek",
            on=dt.date(2026, 6, 4),
        ),
    ),
    (
        "p1",
        5,
        dict(
            country="PL",
            jurisdiction="Poland",
            action="ban",
            app="Kaspersky",
            confidence=0.3,
            on=dt.date(2026, 6, 6),
        ),
    ),  # fmt: skip
]


def build_history(con) -> None:
    """Apply each state in its own batch, as successive passes would."""
    for article, days, fields in STATES:
        fields = dict(fields)
        detection = make_detection(article, announced_on=fields.pop("on"), **fields)
        seen = {article: SEEN + dt.timedelta(days=days)}
        history = store.situation_history(con, {detection.situation})
        resolution = resolve_events(
            [detection],
            history,
            seen_at=seen,
            recency_days=14,
            urls={article: f"https://news.example/{article}"},
            outlets={article: "Example News"},
            min_confidence=0.5,
        )
        store.apply_resolution(con, resolution)


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_which_bans_were_later_lifted(con) -> None:
    build_history(con)
    # one line an analyst types (as in docs/warehouse.md)
    lifted = rows(
        con,
        "SELECT country_name, app, since FROM situations WHERE list_contains(actions, 'lifted')",
    )
    assert lifted == [("Norway", "TikTok", dt.date(2026, 7, 10))]
    (norway,) = rows(
        con,
        "SELECT current_state, first_action, first_announced_on, event_count, history "
        "FROM situations WHERE country = 'NO'",
    )
    assert norway[:4] == ("lifted", "ban", dt.date(2026, 6, 1), 2)
    assert [(h["action"], h["announced_on"]) for h in norway[4]] == [
        ("ban", dt.date(2026, 6, 1)),
        ("lifted", dt.date(2026, 7, 10)),
    ]
    ids = {r[0] for r in rows(con, "SELECT event_id FROM ban_events WHERE country = 'NO'")}
    assert {h["event_id"] for h in norway[4]} == ids


def test_what_is_in_force_in_the_eu_today(con) -> None:
    build_history(con)
    in_force = rows(
        con,
        "SELECT body, app, scope FROM situations WHERE country = 'EU' AND current_state = 'ban'",
    )
    assert in_force == [("European Commission", "TikTok", "government_devices")]
    # the Parliament's proposal is its own situation (acting body), not in force
    states = rows(
        con,
        "SELECT body, current_state, country_name FROM situations WHERE country = 'EU' "
        "ORDER BY body",
    )
    assert states == [
        ("European Commission", "ban", "European Union"),
        ("European Parliament", "proposed", "European Union"),
    ]


def test_candidates_are_not_situations_and_country_names_sit_beside_codes(con) -> None:
    build_history(con)
    assert rows(con, "SELECT count(*) FROM situations WHERE country = 'PL'") == [(0,)]
    assert rows(con, "SELECT country_name FROM ban_event_candidates") == [("Poland",)]
    names = dict(rows(con, "SELECT DISTINCT country, country_name FROM ban_events"))
    assert names == {"NO": "Norway", "EU": "European Union"}
    # ban_events keeps its columns and their order; country_name comes after them
    columns = [d[0] for d in con.execute("SELECT * FROM ban_events LIMIT 0").description]
    assert columns[:17] == [
        "event_id", "jurisdiction", "country", "subdivision", "level", "app", "scope", "action",
        "announced_on", "first_seen_at", "source_count", "confidence", "evidence", "url",
        "historical", "body", "status",
    ]  # fmt: skip
    assert columns[17] == "country_name"


def test_every_view_column_has_a_comment(con) -> None:
    missing = rows(
        con,
        "SELECT c.table_name, c.column_name FROM duckdb_columns() AS c JOIN duckdb_views() AS v "
        "ON v.database_name = c.database_name AND v.schema_name = c.schema_name "
        "AND v.view_name = c.table_name WHERE NOT v.internal AND c.comment IS NULL",
    )
    assert missing == []
    views = {r[0] for r in rows(con, "SELECT view_name FROM duckdb_views() WHERE NOT internal")}
    assert {"ban_events", "ban_event_candidates", "situations", "feed_health"} <= views
    uncommented = rows(
        con, "SELECT view_name FROM duckdb_views() WHERE NOT internal AND comment IS NULL"
    )
    assert uncommented == []


# ---------------------------------------------------------------- feed health, real passes

START = dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC)


def story(outlet: str, slug: str, title: str, when: dt.datetime) -> NewsItem:
    lead = f"{title}, the council said on Monday, after a long debate among residents."
    return NewsItem(
        outlet=outlet,
        slug=slug,
        title=title,
        summary=lead,
        published=when,
        html=article_page(title, (lead,), outlet=outlet, published=when),
    )


def test_feed_health_tells_failing_silent_and_ok_feeds(tmp_path: Path, newsroom) -> None:
    newsroom.add(
        [
            story("river-news", "bridge", "New footbridge opens over the river", START),
            story("hill-times", "library", "Library extends its opening hours", START),
        ]
    )
    settings = settings_from_dict(
        {
            "warehouse": {"path": str(tmp_path / "bw.duckdb")},
            "staging": {"dir": str(tmp_path / "staging")},
            "fetch": {"allowed_hosts": ["127.0.0.1"], "timeout": 5, "retries": 0},
            "alerts": {"enabled": False},
            "feeds": [
                {"name": "river-news", "url": newsroom.feed_url("river-news")},
                {"name": "hill-times", "url": newsroom.feed_url("hill-times")},
                {"name": "gone", "url": newsroom.base_url + "/fault/404"},
            ],
        }
    )
    pipeline.run_pass(settings, now=START + dt.timedelta(hours=1))
    # ten days on, only river-news has published something new; polls carry the wall clock,
    # so the first pass's times are moved ten days back, as if it had run then
    with store.connect(settings.warehouse.path) as con:
        con.execute(
            "UPDATE feeds SET last_polled_at = last_polled_at - INTERVAL 10 DAY, "
            "last_success_at = last_success_at - INTERVAL 10 DAY, "
            "last_new_article_at = last_new_article_at - INTERVAL 10 DAY"
        )
    later = START + dt.timedelta(days=10)
    newsroom.add([story("river-news", "market", "Farmers market returns to the square", later)])
    pipeline.run_pass(settings, now=later + dt.timedelta(hours=1))
    with store.connect(settings.warehouse.path) as con:
        health = {
            r[0]: r[1:]
            for r in rows(
                con,
                "SELECT name, health, last_outcome, last_success_at IS NOT NULL, "
                "last_new_article_at, last_polled_at FROM feed_health",
            )
        }
    assert {name: h[0] for name, h in health.items()} == {
        "river-news": "ok",
        "hill-times": "silent",
        "gone": "failing",
    }
    assert health["gone"][2] is False and health["hill-times"][2] is True
    # hill-times answered the second poll (200 or 304) but brought nothing new since the first
    assert health["hill-times"][1] in ("ok", "not_modified")
    assert health["hill-times"][3] < health["hill-times"][4] - dt.timedelta(days=7)
    assert health["river-news"][3] > health["hill-times"][3]
