"""The sample corpus's answer key (`expected.toml`) and the golden-extraction helper.

What a correct pipeline finds in `banwatch.sample`, phase by phase: events, story groups,
negatives and background mentions. Test and bench material, so it lives beside the tests.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from banwatch.sample import PHASES, check_phase, load_articles, read_toml, resolve_now

EXPECTED_TOML = Path(__file__).with_name("expected.toml")


@dataclass(frozen=True)
class ExpectedEvent:
    """One event a correct pipeline finds, with the slugs of the articles that report it."""

    key: str  # a readable id within the sample
    jurisdiction: str
    country: str
    subdivision: str | None
    level: str
    app: str
    scope: str
    action: str
    body: str
    announced_on: dt.date  # resolved against `now`; allow a day either side
    phase: int  # the first phase after which it exists
    sources: tuple[str, ...]  # slugs, limited to the phases loaded

    @property
    def identity(self) -> tuple[str, str, str, str, str, str]:
        """(country, subdivision, app, scope, action, body): what makes two events the same."""
        return (self.country, self.subdivision or "", self.app, self.scope, self.action, self.body)


@dataclass(frozen=True)
class ExpectedStory:
    """Articles that are the same news story (near-duplicate coverage)."""

    key: str
    slugs: tuple[str, ...]  # same-day copies: must share one story
    follow_ups: tuple[str, ...] = ()  # later coverage a human files under the same story


@dataclass(frozen=True)
class BackgroundMention:
    """An older action an article only recalls: never a new, alerted event from that article."""

    country: str
    subdivision: str | None
    app: str
    scope: str
    action: str
    body: str
    slugs: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Expected:
    """The answer key for the sample up to one phase."""

    max_phase: int
    events: tuple[ExpectedEvent, ...]
    stories: tuple[ExpectedStory, ...]
    negatives: dict[str, str]  # slug -> label (no event must come from these)
    background: tuple[BackgroundMention, ...]
    emails: int  # alert emails a correct pipeline has sent after this phase, in total
    new_emails: dict[int, int] = field(default_factory=dict)  # phase -> emails sent in that pass


def read_expected() -> dict[str, Any]:
    """`expected.toml` as written (all phases)."""
    return read_toml(EXPECTED_TOML)


def _event(e: dict[str, Any], now: dt.datetime, sources: tuple[str, ...]) -> ExpectedEvent:
    return ExpectedEvent(
        key=e["key"],
        jurisdiction=e["jurisdiction"],
        country=e["country"],
        subdivision=e.get("subdivision") or None,
        level=e["level"],
        app=e["app"],
        scope=e["scope"],
        action=e["action"],
        body=e.get("body", ""),
        announced_on=(now + dt.timedelta(hours=e["announced_offset_hours"])).date(),
        phase=e["phase"],
        sources=sources,
    )


def _background(b: dict[str, Any], slugs: tuple[str, ...]) -> BackgroundMention:
    return BackgroundMention(
        country=b["country"],
        subdivision=b.get("subdivision") or None,
        app=b["app"],
        scope=b["scope"],
        action=b["action"],
        body=b.get("body", ""),
        slugs=slugs,
        note=b.get("note", ""),
    )


def load_expected(max_phase: int = 1, now: dt.datetime | None = None) -> Expected:
    """`expected.toml` limited to phases 1..`max_phase`, dates resolved against `now`."""
    check_phase(max_phase)
    now = resolve_now(now)
    raw = read_expected()
    phase_of = {a.slug: a.phase for a in load_articles()}

    def loaded(slugs: list[str]) -> tuple[str, ...]:
        return tuple(s for s in slugs if phase_of[s] <= max_phase)

    events = tuple(
        _event(e, now, loaded(e["sources"])) for e in raw["events"] if e["phase"] <= max_phase
    )
    stories = tuple(
        ExpectedStory(
            key=s["key"], slugs=loaded(s["slugs"]), follow_ups=loaded(s.get("follow_ups", []))
        )
        for s in raw["stories"]
        if loaded(s["slugs"])
    )
    negatives = {
        n["slug"]: n["label"] for n in raw["negatives"] if phase_of[n["slug"]] <= max_phase
    }
    background = tuple(
        _background(b, loaded(b["slugs"])) for b in raw["background"] if loaded(b["slugs"])
    )
    return Expected(
        max_phase=max_phase,
        events=events,
        stories=stories,
        negatives=negatives,
        background=background,
        emails=len(events),
        new_emails={p: sum(1 for e in events if e.phase == p) for p in PHASES if p <= max_phase},
    )


def golden_extract(html: str) -> dict[str, Any]:
    """What banwatch's extraction makes of one page: title, text, date, language, sitename.

    The golden fixtures (`tests/fixtures/golden/`) record this for one page per outlet, so an
    upgrade of trafilatura (or a change to `ingest.extract`) that alters extraction shows up
    as a failing test.
    """
    from banwatch.ingest.extract import extract_page  # lazy: trafilatura takes ~0.5 s to import

    doc = extract_page(html)
    empty = {"title": None, "text": None, "date": None, "language": None, "sitename": None}
    return {key: doc.get(key) for key in empty} if doc else empty
