"""bench/realpages.py serves a folder of real-looking pages, runs the real pipeline and lists
what it would alert. The Fundus pages are not in the repository, so this test writes a tiny
folder of the same layout with pages of its own: one ordinary story and one that does report
a government app ban, which the bench must list (with its page and evidence) as a false alarm,
since the bench assumes none of its pages reports a ban."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from bench import realpages

_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
</head><body><nav><a href="/">Home</a> | <a href="/news">News</a></nav>
<article><h1>{title}</h1><p class="byline">By a staff reporter</p>{paragraphs}</article>
<footer>All rights reserved.</footer></body></html>"""

ORDINARY = [
    "The city council voted on Wednesday to add twelve kilometres of protected cycle lanes "
    "along the harbour road, after two years of consultation with residents and shopkeepers.",
    "Work on the first section is due to start in the spring, and the council expects the "
    "whole route to open before the end of next year, the transport committee said.",
    "Shop owners on the harbour road had asked for loading bays to be kept, and the final plan "
    "keeps six of them, placed between the new lanes and the pavement.",
]
BAN = [
    "Norway's government on Monday banned TikTok from the work phones of all ministers and "
    "state employees, citing the risk that the Chinese-owned app could expose official data.",
    "The ban on TikTok on government devices takes effect immediately, the justice ministry "
    "said in a statement, and staff must delete the app from their work phones this week.",
    "The ministry said the decision followed advice from the national security authority.",
]


def _write(folder: Path, publisher: str, date: str, title: str, paragraphs: list[str]) -> None:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    page = _PAGE.format(title=title, paragraphs=body)
    (folder / f"{publisher}_{date}.html.gz").write_bytes(gzip.compress(page.encode("utf-8")))
    gold = {
        "V1": {
            "title": title,
            "publishing_date": date.replace("_", "-") + " 09:00:00+00:00",
            "body": {"summary": [], "sections": [{"headline": [], "paragraphs": paragraphs}]},
        }
    }
    (folder / f"{publisher}.json").write_text(json.dumps(gold), encoding="utf-8")


def test_every_event_on_real_pages_is_listed_as_a_false_alarm(tmp_path: Path) -> None:
    folder = tmp_path / "no"
    folder.mkdir()
    _write(folder, "HarbourPost", "2025_03_05", "Council approves harbour cycle lanes", ORDINARY)
    _write(folder, "NordicWire", "2025_03_03", "Norway bans TikTok on government phones", BAN)

    result = realpages.run_realpages(tmp_path)

    assert (result.pages, result.items, result.pages_fetched) == (2, 2, 2)
    assert result.stored["total"] == 2
    assert result.events, "the page that reports a ban must give an event"
    listing = "\n".join(result.lines())
    assert "every event is a false alarm" in listing
    assert {e.app for e in result.events} == {"TikTok"}
    assert "no/NordicWire_2025_03_03.html.gz" in listing
    assert "HarbourPost" not in listing
    assert "evidence: " in listing
    per_1000 = result.figures()["false_alarm_events_per_1000_pages"]
    assert per_1000 == len(result.events) * 500
    assert result.emails == sum(e.emails for e in result.events)
