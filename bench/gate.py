"""Quality gate for the ban-event detector: a committed baseline and a tolerance band.

    python -m bench.gate                       # article mode on every set this machine has
    python -m bench.gate --e2e                 # + the real pipeline on each set (minutes)
    python -m bench.gate --realpages DIR       # + false alarms on real pages (bench.realpages)
    python -m bench.gate --pin [--e2e] [--realpages DIR]   # re-baseline: one command
    python -m bench.gate --sets devset,holdout --baseline FILE

Each figure is compared with the baseline in `bench/quality_baseline.json` minus a tolerance
(`tolerance` in that file: a default, 0.03 absolute, and per-figure overrides); higher is better
except for the rates of unwanted emails and false alarms, where the baseline plus the tolerance
is the ceiling. Equal or better figures always pass, so a change that moves no figure passes.
The baseline is a reference point, not the last value pinned exactly.

Sets: the shared sets (eval, eval-fulltext: in `shared/` beside the clone, else /work/shared)
where present, and the repository's own (bench/devset, bench/holdout) everywhere, CI included.
Each set's files are hashed: a changed set is an error until it is re-baselined with --pin.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.scoring import FIELDS, load_gold

ROOT = Path(__file__).resolve().parent
BASELINE = ROOT / "quality_baseline.json"
DEFAULT_TOLERANCE = {
    "default": 0.03,
    "non_event_emails_per_100_articles": 1.0,
    "false_alarm_events_per_1000_pages": 4.0,  # about one page in 258
    "false_alarm_emails_per_1000_pages": 4.0,
}
ACCURACY = tuple(f"accuracy_{f}" for f in (*FIELDS, "announced_on"))
GATED = {
    "article": ("precision", "recall", "f1", "alerted_precision", "alerted_recall", *ACCURACY),
    "e2e": (
        "precision",
        "recall",
        "f1",
        "alerted_precision",
        "alerted_recall",
        *ACCURACY,
        "gold_emailed_once",
        "non_event_emails_per_100_articles",
    ),
    "realpages": ("false_alarm_events_per_1000_pages", "false_alarm_emails_per_1000_pages"),
}
LOWER_IS_BETTER = {
    "non_event_emails_per_100_articles",
    "false_alarm_events_per_1000_pages",
    "false_alarm_emails_per_1000_pages",
}
REPIN = "python -m bench.gate --pin"


@dataclass(frozen=True)
class Measured:
    name: str  # a set's name, or "realpages"
    mode: str  # article | e2e | realpages
    sha256: str
    figures: dict[str, float]


def corpus_hash(eval_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in ("events.csv", "articles.tsv"):
        digest.update(name.encode())
        digest.update((eval_dir / name).read_bytes())
    return digest.hexdigest()


def sets() -> dict[str, Path | None]:
    """Every gated set and its folder (None where this machine lacks the shared folder)."""
    from bench.eval_events import LOCAL_SETS, shared_dir

    shared = shared_dir()
    return {
        "shared-eval": shared / "eval" if shared else None,
        "shared-eval-fulltext": shared / "eval-fulltext" if shared else None,
        **LOCAL_SETS,
    }


def available() -> dict[str, Path]:
    return {n: d for n, d in sets().items() if d is not None and (d / "events.csv").is_file()}


def measure(name: str, eval_dir: Path, mode: str = "article") -> Measured:
    """Score one set in article or e2e mode with the repository's detector and defaults."""
    from bench.eval_events import score_articles, score_e2e

    gold, articles = load_gold(eval_dir)
    run = score_articles if mode == "article" else score_e2e
    result = run(articles, gold)
    figures = {k: v for k, v in result.figures().items() if k in GATED[mode]}
    return Measured(name, mode, corpus_hash(eval_dir), figures)


def measure_realpages(pages_dir: Path) -> Measured:
    """False alarms per 1,000 real pages (`bench.realpages`, one copy of each page)."""
    from bench.realpages import run_realpages

    result = run_realpages(pages_dir)
    print("\n".join(result.lines()))
    figures = {k: v for k, v in result.figures().items() if k in GATED["realpages"]}
    return Measured("realpages", "realpages", result.fingerprint, figures)


def load_baseline(path: Path = BASELINE) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def tolerance(baseline: dict, key: str) -> float:
    tol = DEFAULT_TOLERANCE | baseline.get("tolerance", {})
    return float(tol.get(key, tol["default"]))


def problems(m: Measured, baseline: dict) -> list[str]:
    """Why `m` fails the gate (empty when it passes)."""
    entry = baseline.get("results", {}).get(m.name)
    if entry is None:
        return [f"{m.name}: no baseline; record one with {REPIN}"]
    if entry.get("sha256") != m.sha256:
        return [
            f"{m.name}: its files changed since the baseline (sha256 {m.sha256[:12]} != "
            f"{str(entry.get('sha256'))[:12]}); check why, then re-baseline with {REPIN}"
        ]
    pinned = entry.get(m.mode)
    if pinned is None:
        flag = {"e2e": " --e2e", "realpages": " --realpages DIR"}.get(m.mode, "")
        return [f"{m.name}: no {m.mode} baseline; record one with {REPIN}{flag}"]
    out = []
    for key, ref in sorted(pinned.items()):
        if key not in m.figures:
            out.append(f"{m.name} {m.mode}: {key} was not measured")
            continue
        value, tol = m.figures[key], tolerance(baseline, key)
        if key in LOWER_IS_BETTER and value > ref + tol + 1e-9:
            out.append(f"{m.name} {m.mode}: {key} {value:.4f} > baseline {ref:.4f} + {tol:g}")
        elif key not in LOWER_IS_BETTER and value < ref - tol - 1e-9:
            out.append(f"{m.name} {m.mode}: {key} {value:.4f} < baseline {ref:.4f} - {tol:g}")
    return out


def pin(measured: list[Measured], baseline: dict) -> tuple[dict, list[str]]:
    """The baseline with these figures recorded, and a note for every figure that went down.

    A set whose files changed starts a fresh entry: figures of other modes measured on its
    old files no longer describe it."""
    out = {"tolerance": DEFAULT_TOLERANCE | baseline.get("tolerance", {}), "results": {}}
    out["results"] = {k: dict(v) for k, v in baseline.get("results", {}).items()}
    notes = []
    for m in measured:
        entry = out["results"].get(m.name, {})
        if entry.get("sha256") != m.sha256:
            entry = {"sha256": m.sha256}
        for key, old in entry.get(m.mode, {}).items():
            new = m.figures.get(key)
            worse = new is not None and (new > old if key in LOWER_IS_BETTER else new < old)
            if worse:
                notes.append(f"{m.name} {m.mode}: {key} {old:.4f} -> {new:.4f}")
        entry[m.mode] = dict(sorted(m.figures.items()))
        out["results"][m.name] = entry
    return out, notes


def _print(m: Measured) -> None:
    print(f"{m.name} {m.mode}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.figures.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pin", action="store_true", help="record the figures as the baseline")
    parser.add_argument("--e2e", action="store_true", help="also run e2e mode on each set")
    parser.add_argument("--realpages", default="", help="also gate false alarms on these pages")
    parser.add_argument("--sets", default="", help="comma-separated set names (default: all)")
    parser.add_argument("--baseline", default=str(BASELINE), help="the baseline JSON file")
    args = parser.parse_args(argv)
    path = Path(args.baseline)
    baseline = load_baseline(path)
    chosen = available()
    if args.sets:
        wanted = [s.strip() for s in args.sets.split(",") if s.strip()]
        unknown = [s for s in wanted if s not in chosen]
        if unknown:
            print(f"FAIL unknown or absent sets: {', '.join(unknown)}", file=sys.stderr)
            return 2
        chosen = {s: chosen[s] for s in wanted}
    for name in sorted(set(sets()) - set(available())):
        print(f"skipped {name}: not on this machine")
    measured = []
    for name, eval_dir in chosen.items():
        for mode in ("article", "e2e") if args.e2e else ("article",):
            measured.append(measure(name, eval_dir, mode))
            _print(measured[-1])
    if args.realpages:
        measured.append(measure_realpages(Path(args.realpages)))
        _print(measured[-1])
    if args.pin:
        new, notes = pin(measured, baseline)
        path.write_text(json.dumps(new, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        for note in notes:
            print(f"lower than the previous baseline: {note}")
        print(f"pinned {path}")
        return 0
    failed = [line for m in measured for line in problems(m, baseline)]
    for line in failed:
        print("FAIL", line, file=sys.stderr)
    if not failed:
        print("quality gate: passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
