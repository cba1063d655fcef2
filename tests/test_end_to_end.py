"""The whole spine, as a user runs it: `banwatch run` over the sample newsroom on 127.0.0.1.

These tests check the spine's mechanics (stories, events, sources, one email per event, state
changes), so the config lets the candidate rules decide (`detect.decider = "rules"`, with their
hand-set confidence and the 0.5 alert floor they had): the learned model's reading of the
sample is measured, not pinned here (test_detect_model.py, and the quality gate). The alert
threshold has test_alert_policy.py.

Four passes share one warehouse and one SMTP sink:
1. phase-1 corpus: the events of the answer key (fields included), the story groups, one email
   per event;
2. the same feeds again: nothing new, no email, no new rows anywhere;
3. phase-2 follow-ups added: sources grow, no new event, no email;
4. phase-3 items: the Pennsylvania proposal becomes a ban: one new event, one email.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from banwatch.cli import cli
from banwatch.demo import write_config
from banwatch.sample import load_sample
from tests.support.mailsink import MailSink
from tests.support.newsroom import Newsroom
from tests.support.sample import load_expected

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TABLES = ("feeds", "articles", "stories", "events", "event_sources", "mentions", "alerts")


def slug_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html")


class Scenario:
    """Runs passes and keeps what each one left behind for the tests to read."""

    def __init__(self, workdir: Path, newsroom: Newsroom, sink: MailSink):
        self.newsroom = newsroom
        self.sink = sink
        self.config = write_config(
            workdir, newsroom, sink.port, decider="rules", min_confidence=0.5
        )
        self.db = workdir / "banwatch.duckdb"
        self.outputs: list[str] = []
        self.mail_counts: list[int] = []
        self.row_counts: list[dict[str, int]] = []

    def run(self) -> str:
        result = CliRunner().invoke(cli, ["run", "--config", str(self.config), "--quiet"])
        assert result.exit_code == 0, result.output + repr(result.exception)
        self.outputs.append(result.output.strip().splitlines()[-1])
        self.mail_counts.append(len(self.sink.messages))
        self.row_counts.append(self.counts())
        return self.outputs[-1]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql).fetchall()

    def counts(self) -> dict[str, int]:
        return {t: self.query(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}

    def events(self) -> dict[tuple, dict[str, Any]]:
        rows = self.query(
            "SELECT e.event_id, e.country, coalesce(e.subdivision, ''), e.app, e.scope, e.action, "
            "coalesce(ev.body, ''), e.jurisdiction, e.level, e.announced_on, e.source_count "
            "FROM ban_events e JOIN events ev USING (event_id) WHERE NOT e.historical"
        )
        sources = defaultdict(set)
        for event_id, url in self.query(
            "SELECT s.event_id, a.url FROM event_sources s JOIN articles a USING (article_id)"
        ):
            sources[event_id].add(slug_of(url))
        return {
            tuple(r[1:7]): {
                "event_id": r[0],
                "jurisdiction": r[7],
                "level": r[8],
                "announced_on": r[9],
                "source_count": r[10],
                "sources": sources[r[0]],
            }
            for r in rows
        }


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory):
    workdir = tmp_path_factory.mktemp("e2e")
    with Newsroom(load_sample(max_phase=1, now=NOW)) as newsroom, MailSink() as sink:
        s = Scenario(workdir, newsroom, sink)
        s.run()  # pass 1
        s.after_pass1 = s.events()
        s.run()  # pass 2: nothing new
        newsroom.add([i for i in load_sample(max_phase=2, now=NOW) if i not in load_sample(1, NOW)])
        s.run()  # pass 3: follow-ups
        s.after_pass3 = s.events()
        newsroom.add([i for i in load_sample(max_phase=3, now=NOW) if i not in load_sample(2, NOW)])
        s.run()  # pass 4: a state change
        s.after_pass4 = s.events()
        yield s


def check_events(found: dict[tuple, dict[str, Any]], phase: int) -> None:
    expected = load_expected(max_phase=phase, now=NOW)
    assert set(found) == {e.identity for e in expected.events}
    for e in expected.events:
        got = found[e.identity]
        assert got["jurisdiction"] == e.jurisdiction, e.key
        assert got["level"] == e.level, e.key
        assert abs((got["announced_on"] - e.announced_on).days) <= 1, e.key
        assert got["sources"] == set(e.sources), e.key
    negatives = set(expected.negatives)
    assert not negatives & set().union(*(g["sources"] for g in found.values()))


def test_first_pass_finds_the_answer_keys_events(scenario: Scenario) -> None:
    check_events(scenario.after_pass1, phase=1)
    assert scenario.outputs[0].startswith("feeds polled 5 (failed 0), new articles 20 (failed 0)")


def test_flagship_story_is_one_event_with_its_outlets(scenario: Scenario) -> None:
    uk = scenario.after_pass1[("GB", "", "TikTok", "government_devices", "ban", "")]
    assert uk["jurisdiction"] == "United Kingdom"
    assert uk["source_count"] == 4  # four outlets, one event
    wales = scenario.after_pass1[("GB", "GB-WLS", "TikTok", "government_devices", "ban", "")]
    assert wales["level"] == "subnational"


def test_background_mentions_are_kept_but_never_alerted(scenario: Scenario) -> None:
    expected = load_expected(1, NOW)
    news = {e.identity for e in expected.events}
    for m in expected.background:
        identity = (m.country, m.subdivision or "", m.app, m.scope, m.action, m.body)
        if identity not in news:
            assert identity not in scenario.after_pass1, m
    mentioned = {r[0] for r in scenario.query("SELECT DISTINCT country FROM mentions")}
    assert {"US", "CA"} <= mentioned


def test_same_news_from_several_outlets_is_one_story(scenario: Scenario) -> None:
    story_of = {
        slug_of(url): story for url, story in scenario.query("SELECT url, story_id FROM articles")
    }
    expected = load_expected(max_phase=1, now=NOW)
    listed = set()
    for story in expected.stories:
        assert len({story_of[s] for s in story.slugs}) == 1, story.key
        listed |= set(story.slugs)
    firsts = [story_of[s.slugs[0]] for s in expected.stories]
    assert len(set(firsts)) == len(firsts), "two different stories were merged"
    loners = [slug for slug in story_of if slug not in listed and slug in expected.negatives]
    for slug in loners:
        assert story_of[slug] not in firsts, f"{slug} was merged into a story it is not part of"


def test_one_multipart_email_per_new_event(scenario: Scenario) -> None:
    expected = load_expected(max_phase=1, now=NOW)
    first = scenario.sink.messages[: scenario.mail_counts[0]]
    assert len(first) == expected.new_emails.get(1, len(expected.events)) == len(expected.events)
    assert len({m["Message-ID"] for m in first}) == len(first)
    for message, envelope in zip(first, scenario.sink.recipients, strict=False):
        assert message.get_content_type() == "multipart/alternative"
        kinds = {part.get_content_type() for part in message.iter_parts()}
        assert kinds == {"text/plain", "text/html"}
        # Addressed to the list (the sender); the recipient is in the envelope only.
        assert message["To"] == "banwatch@example.org"
        assert envelope == ["analysts@example.org"]
    subjects = " | ".join(m["Subject"] for m in first)
    assert "United Kingdom" in subjects and "TikTok" in subjects


def test_second_pass_adds_nothing_and_sends_nothing(scenario: Scenario) -> None:
    assert scenario.outputs[1] == (
        "feeds polled 5 (failed 0), new articles 0 (failed 0), new stories 0, "
        "new events 0, emails sent 0"
    )
    assert scenario.mail_counts[1] == scenario.mail_counts[0]
    assert scenario.row_counts[1] == scenario.row_counts[0]


def test_follow_ups_add_sources_not_events_or_emails(scenario: Scenario) -> None:
    check_events(scenario.after_pass3, phase=2)
    assert scenario.mail_counts[2] == scenario.mail_counts[1]
    uk = ("GB", "", "TikTok", "government_devices", "ban", "")
    assert scenario.after_pass3[uk]["source_count"] > scenario.after_pass1[uk]["source_count"]
    assert scenario.after_pass3[uk]["event_id"] == scenario.after_pass1[uk]["event_id"]
    assert "new events 0, emails sent 0" in scenario.outputs[2]


def test_a_change_of_state_is_a_new_event_and_one_email(scenario: Scenario) -> None:
    check_events(scenario.after_pass4, phase=3)
    assert scenario.mail_counts[3] == scenario.mail_counts[2] + 1
    newest = scenario.sink.messages[-1]
    assert "DeepSeek" in newest["Subject"] and "Pennsylvania" in newest["Subject"]
    assert "new events 1, emails sent 1" in scenario.outputs[3]


def test_events_and_sql_commands_read_the_snapshot(scenario: Scenario) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["events", "--config", str(scenario.config), "--csv"])
    assert result.exit_code == 0, result.output
    header, *rows = result.output.strip().splitlines()
    assert header.startswith("event_id,announced_on,jurisdiction,country,subdivision,app,scope")
    assert len(rows) == len(scenario.after_pass4)
    result = runner.invoke(
        cli,
        ["sql", "--config", str(scenario.config), "--json", "SELECT count(*) AS n FROM ban_events"],
    )
    assert result.exit_code == 0, result.output
    assert '"n": ' in result.output
