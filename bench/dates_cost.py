"""Cost of `enrich.dates.find_times` per call, on sentences written for this bench.

Sentences are made from templates in the six languages the detector reads (day-month dates,
month names, weekdays, relative phrases, "N years ago", years, effect phrases that must be
skipped, and sentences with no date at all), each resolved against several publication dates.
Prints CPU milliseconds per call (mean, median, p95), the first call's cost, and how many
phrases were found; `--cold` empties the module's phrase cache before every call (each
phrase appears in four frames, so a warm run mostly hits the cache). `--dump FILE` writes
every result as JSON lines so two implementations can be compared (`--compare OLD NEW`);
`--module PATH` measures another copy of dates.py (e.g. the previous one, from git show).

    python bench/dates_cost.py
    python bench/dates_cost.py --cold
    python bench/dates_cost.py --dump /tmp/new.jsonl
    python bench/dates_cost.py --compare /tmp/old.jsonl /tmp/new.jsonl
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PHRASES = [
    # English
    "on 28 February",
    "on February 28, 2023",
    "on 3 March 2021",
    "in December",
    "in December 2022",
    "in mid-July",
    "on Thursday",
    "on Monday",
    "yesterday",
    "today",
    "last week",
    "earlier this week",
    "last weekend",
    "earlier this month",
    "last month",
    "last year",
    "this year",
    "two years ago",
    "nine months ago",
    "3 weeks ago",
    "in 2019",
    "from January 1",
    "until July 8",
    "by March 20",
    # German
    "am 12. März",
    "am Donnerstag",
    "gestern",
    "letzte Woche",
    "im Januar",
    "seit 2020",
    "ab dem 1. April",
    # French
    "le 14 février",
    "le 2 aout",
    "jeudi",
    "hier",
    "la semaine dernière",
    "le mois dernier",
    "en décembre",
    "jusqu'au 30 juin",
    # Spanish
    "el 5 de mayo de 2022",
    "el martes",
    "ayer",
    "la semana pasada",
    "el mes pasado",
    "desde enero",
    # Italian
    "il 9 ottobre",
    "giovedì",
    "lunedi",
    "ieri",
    "la settimana scorsa",
    "il mese scorso",
    "nel 2021",
    # Portuguese
    "em 7 de setembro",
    "na sexta-feira",
    "ontem",
    "semana passada",
    "mês passado",
    "em março",
]

FRAMES = [
    "The ministry said {p} that it would block the messaging app on state phones.",
    "Regulators ordered the video platform offline {p}, a spokesperson confirmed.",
    "{p}, the parliament voted to restrict the shopping app for minors.",
    "Officials, who met {p} and again later, refused to comment on the ban.",
]

PLAIN = [
    "The council approved a new cycle lane along the harbour road.",
    "Shares in the chipmaker rose after the quarterly figures.",
    "A may 5 deadline could be moved, the union said.",
    "Fans queued for hours outside the stadium in the rain.",
]

PUBLISHED = [dt.date(2024, 3, 14), dt.date(2023, 12, 31), dt.date(2025, 7, 2), dt.date(2022, 1, 3)]


def sentences() -> list[tuple[str, dt.date]]:
    """Every phrase in every frame, plus plain sentences, against every publication date."""
    texts = [f.format(p=p) for p, f in itertools.product(PHRASES, FRAMES)] + PLAIN * 4
    return [(t[0].upper() + t[1:], pub) for t in texts for pub in PUBLISHED]


def load(path: str | None) -> Callable[[str, dt.date], list]:
    """`find_times` of the installed module, or of another copy of dates.py (to compare)."""
    if path is None:
        from banwatch.enrich.dates import find_times

        return find_times
    spec = importlib.util.spec_from_file_location("dates_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module.find_times


def measure(
    find_times: Callable[[str, dt.date], list], cases, dump: str | None, *, cold: bool = False
) -> None:
    """CPU time per call; `cold` empties the module's caches before every call."""
    caches = [
        f for f in vars(sys.modules[find_times.__module__]).values() if hasattr(f, "cache_clear")
    ]
    first = time.process_time()
    find_times(*cases[0])
    first_ms = (time.process_time() - first) * 1000
    costs: list[float] = []
    found = 0
    rows = []
    for sentence, pub in cases:
        if cold:
            for cache in caches:
                if cache.__name__ != "_parser":  # parsers are built once per day either way
                    cache.cache_clear()
        t0 = time.process_time()
        refs = find_times(sentence, pub)
        costs.append((time.process_time() - t0) * 1000)
        found += len(refs)
        rows.append(
            {
                "sentence": sentence,
                "published": pub.isoformat(),
                "refs": [[r.date.isoformat(), r.precision, r.text] for r in refs],
            }
        )
    costs.sort()
    print(f"{len(cases)} calls ({'cold' if cold else 'warm'}), {found} time phrases found")
    print(f"first call (loading): {first_ms:.1f} ms CPU")
    print(
        f"per call: mean {statistics.fmean(costs):.3f} ms, median {statistics.median(costs):.3f}"
        f" ms, p95 {costs[int(len(costs) * 0.95)]:.3f} ms, total {sum(costs):.0f} ms CPU"
    )
    if dump:
        Path(dump).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def compare(old: str, new: str) -> None:
    a = [json.loads(line) for line in Path(old).read_text(encoding="utf-8").splitlines()]
    b = [json.loads(line) for line in Path(new).read_text(encoding="utf-8").splitlines()]
    differ = [(x, y) for x, y in zip(a, b, strict=True) if x["refs"] != y["refs"]]
    print(f"{len(differ)} of {len(a)} sentences resolve differently")
    for x, y in differ:
        print(f"- {x['published']} {x['sentence']}\n    old {x['refs']}\n    new {y['refs']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", help="path of a dates.py to measure instead of the installed")
    parser.add_argument("--dump", help="write every result to this JSON-lines file")
    parser.add_argument("--cold", action="store_true", help="no cached phrase between calls")
    parser.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="diff two dumps")
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    measure(load(args.module), sentences(), args.dump, cold=args.cold)


if __name__ == "__main__":
    main()
