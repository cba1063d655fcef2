"""Quality gate for the ban-event detector: pinned floors on labelled sets, corpus hashed.

    python -m bench.gate            # measure every set, compare with bench/quality_baseline.json
    python -m bench.gate --pin      # record today's figures as the floors (never lower ...)
    python -m bench.gate --pin --allow-lower   # ... unless this flag says a drop is intended

Each set is scored in article mode (`bench.eval_events.article_mode`: the detector over
headline + lead, events resolved by `enrich.novelty` as the load step does). The floors are
the figures pinned last, minus nothing: any drop fails `tests/test_quality_gate.py`. The hash
of each set's files is pinned too, so a changed corpus cannot silently move the floor.
The shared labelled set (/work/shared/eval) is gated where it exists; the sets in this
repository (bench/devset, bench/holdout) everywhere, CI included.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.scoring import NEGATIVE_LABELS, Report, load_gold, score

ROOT = Path(__file__).resolve().parent
BASELINE = ROOT / "quality_baseline.json"
SETS = {
    "shared-eval": Path("/work/shared/eval"),
    "devset": ROOT / "devset",
    "holdout": ROOT / "holdout",
}
GATED = ("precision", "recall", "f1")


@dataclass(frozen=True)
class Measured:
    name: str
    sha256: str
    figures: dict[str, float]
    report: Report


def corpus_hash(eval_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in ("events.csv", "articles.tsv"):
        digest.update(name.encode())
        digest.update((eval_dir / name).read_bytes())
    return digest.hexdigest()


def measure(name: str, eval_dir: Path) -> Measured:
    from bench.eval_events import article_mode
    from enrich.apps import default_catalogue

    gold, articles = load_gold(eval_dir)
    predicted, _ = article_mode(articles)
    negatives = [a["label"] for a in articles if a["label"] in NEGATIVE_LABELS]
    report = score(
        predicted, gold, negative_articles=negatives, in_catalogue=default_catalogue().apps
    )
    figures = {"precision": report.precision, "recall": report.recall, "f1": report.f1}
    figures.update({f"accuracy_{k}": v for k, v in report.field_accuracy.items()})
    return Measured(
        name, corpus_hash(eval_dir), {k: round(v, 4) for k, v in figures.items()}, report
    )


def available() -> dict[str, Path]:
    return {n: d for n, d in SETS.items() if (d / "events.csv").is_file()}


def load_baseline() -> dict:
    return json.loads(BASELINE.read_text(encoding="utf-8")) if BASELINE.is_file() else {}


def problems(m: Measured, baseline: dict) -> list[str]:
    """Why `m` fails the gate (empty when it passes)."""
    pinned = baseline.get(m.name)
    if pinned is None:
        return [f"{m.name}: no pinned floors; run python -m bench.gate --pin"]
    if pinned["sha256"] != m.sha256:
        return [f"{m.name}: the labelled files changed; re-measure and re-pin deliberately"]
    return [
        f"{m.name}: {k} {m.figures[k]:.4f} < pinned {pinned['floors'][k]:.4f}"
        for k in GATED
        if m.figures[k] + 1e-9 < pinned["floors"][k]
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pin", action="store_true", help="record the figures as floors")
    parser.add_argument("--allow-lower", action="store_true", help="let --pin lower a floor")
    args = parser.parse_args(argv)
    baseline = load_baseline()
    failed: list[str] = []
    for name, eval_dir in available().items():
        m = measure(name, eval_dir)
        print(f"{name}: " + ", ".join(f"{k} {v:.3f}" for k, v in m.figures.items()))
        if args.pin:
            old = baseline.get(name, {}).get("floors", {})
            lower = [k for k in GATED if k in old and m.figures[k] < old[k]]
            if lower and not args.allow_lower and baseline.get(name, {}).get("sha256") == m.sha256:
                failed.append(f"{name}: --pin would lower {', '.join(lower)}; add --allow-lower")
                continue
            baseline[name] = {"sha256": m.sha256, "floors": {k: m.figures[k] for k in GATED}}
        else:
            failed += problems(m, baseline)
    if args.pin and not failed:
        BASELINE.write_text(json.dumps(baseline, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"pinned {BASELINE}")
    for line in failed:
        print("FAIL", line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
