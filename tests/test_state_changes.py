"""Each change of state of a situation is one new event and one email, over real passes.

Kyrgyzstan · Telegram · nationwide moves proposed → ban → lifted → ban again, one state per
pass, each reported by two outlets; a follow-up on the ban only adds a source.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from banwatch import pipeline
from banwatch.config import settings_from_dict
from tests.support.mailsink import MailSink
from tests.support.newsroom import NewsItem, Newsroom
from tests.support.pages import article_page

START = dt.datetime(2026, 2, 2, 9, tzinfo=dt.UTC)  # a Monday
# the day each state was announced, as its articles date it ("on Tuesday" in a Friday paper)
ANNOUNCED_DAYS = (0, 19, 57, 115)

STATES = [
    (
        0,
        "proposed",
        [
            (
                "Kyrgyz lawmakers file bill to block Telegram nationwide",
                "Members of Kyrgyzstan's parliament filed a bill on Monday that would block the "
                "messaging app Telegram across the country, citing fraud and extremist channels.",
            ),
            (
                "Kyrgyzstan moves to ban Telegram",
                "Kyrgyzstan's government is considering a nationwide ban on Telegram, according "
                "to a draft law published by the digital ministry on Monday.",
            ),
        ],
    ),
    (
        20,
        "ban",
        [
            (
                "Kyrgyzstan blocks Telegram nationwide",
                "Kyrgyzstan blocked the messaging app Telegram nationwide on Saturday after the "
                "president signed the law, and users reported the service was unreachable.",
            ),
            (
                "Telegram goes dark in Kyrgyzstan as ban takes effect",
                "Internet providers across Kyrgyzstan cut access to Telegram on Saturday, "
                "enforcing the nationwide ban ordered by the government.",
            ),
        ],
    ),
    (
        60,
        "lifted",
        [
            (
                "Kyrgyzstan lifts its ban on Telegram",
                "Kyrgyzstan lifted its nationwide ban on Telegram on Tuesday after the company "
                "agreed to remove fraud channels, and access was restored within hours.",
            ),
            (
                "Telegram back online in Kyrgyzstan after court strikes down block",
                "Kyrgyzstan's constitutional court struck down the nationwide Telegram ban on "
                "Tuesday, and the regulator restored access to the messaging app.",
            ),
        ],
    ),
    (
        120,
        "ban",
        [
            (
                "Kyrgyzstan bans Telegram again",
                "Kyrgyzstan banned Telegram nationwide again on Thursday, re-imposing the block "
                "after the regulator said the company had broken its promises.",
            ),
            (
                "Kyrgyz regulator reinstates nationwide Telegram block",
                "Kyrgyzstan's telecoms regulator ordered providers on Thursday to block Telegram "
                "across the country once more, reinstating the ban lifted in spring.",
            ),
        ],
    ),
]
FILLER = (
    "The decision drew criticism from rights groups, who said millions of people rely on the "
    "app to reach relatives abroad and to run small businesses.",
    "Officials said the measure would be reviewed after six months and that other messaging "
    "services were not affected.",
)


def items_for(day: int, texts: list[tuple[str, str]], tag: str) -> list[NewsItem]:
    published = START + dt.timedelta(days=day)
    out = []
    for n, (title, lead) in enumerate(texts):
        outlet = ("steppe-times", "bishkek-wire")[n]
        out.append(
            NewsItem(
                outlet=outlet,
                slug=f"{tag}-{n}",
                title=title,
                summary=lead,
                published=published + dt.timedelta(hours=n),
                html=article_page(
                    title,
                    (lead, *FILLER),
                    outlet=outlet,
                    published=published + dt.timedelta(hours=n),
                ),
            )
        )
    return out


@pytest.fixture(scope="module")
def passes(tmp_path_factory: pytest.TempPathFactory):
    tmp: Path = tmp_path_factory.mktemp("states")
    results = []
    with Newsroom() as newsroom, MailSink() as sink:
        newsroom.add(items_for(0, STATES[0][2], "s0"))
        settings = settings_from_dict(
            {
                "warehouse": {"path": str(tmp / "bw.duckdb")},
                "staging": {"dir": str(tmp / "staging")},
                "fetch": {"allowed_hosts": ["127.0.0.1"], "timeout": 5},
                "alerts": {"smtp_host": "127.0.0.1", "smtp_port": sink.port},
                "feeds": [
                    {"name": o, "url": newsroom.feed_url(o)}
                    for o in ("steppe-times", "bishkek-wire")
                ],
            }
        )
        for i, (day, _action, texts) in enumerate(STATES):
            if i:
                newsroom.add(items_for(day, texts, f"s{i}"))
            now = START + dt.timedelta(days=day, hours=6)
            summary = pipeline.run_pass(settings, now=now)
            results.append((summary, len(sink.messages)))
        # a follow-up two days after the re-imposed ban: a source, no event, no email
        follow = items_for(
            122,
            [
                (
                    "Kyrgyz users turn to VPNs as Telegram ban bites",
                    "Two days after Kyrgyzstan banned Telegram nationwide again, VPN downloads "
                    "jumped tenfold, according to app store data.",
                )
            ],
            "follow",
        )
        newsroom.add(follow)
        results.append(
            (
                pipeline.run_pass(settings, now=START + dt.timedelta(days=122, hours=6)),
                len(sink.messages),
            )
        )
        subjects = [m["Subject"] for m in sink.messages]
    with duckdb.connect(str(tmp / "bw.duckdb"), read_only=True) as con:
        events = con.execute(
            "SELECT country, app, scope, action, announced_on, source_count, "
            "(SELECT count(*) FROM event_sources s WHERE s.event_id = b.event_id) "
            "FROM ban_events b ORDER BY announced_on"
        ).fetchall()
    return results, events, subjects


def test_four_states_give_four_events(passes) -> None:
    _, events, _ = passes
    assert [(e[0], e[1], e[2], e[3]) for e in events] == [
        ("KG", "Telegram", "nationwide", action) for _, action, _ in STATES
    ]
    for day, event in zip(ANNOUNCED_DAYS, events, strict=True):
        assert event[4] == (START + dt.timedelta(days=day)).date()


def test_one_email_per_state_change(passes) -> None:
    results, _, subjects = passes
    assert [r[0].new_events for r in results] == [1, 1, 1, 1, 0]
    assert [r[1] for r in results] == [1, 2, 3, 4, 4]
    assert all("Kyrgyzstan" in s and "Telegram" in s for s in subjects)


def test_follow_up_adds_a_source_to_the_reimposed_ban(passes) -> None:
    _, events, _ = passes
    # three articles report it, from two distinct outlets (the follow-up's outlet had one already)
    assert events[-1][6] == 3
    assert events[-1][5] == 2
