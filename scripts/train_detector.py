"""Fit the detector's decision model on every labelled set and write its JSON weights.

    python scripts/train_detector.py                       # -> enrich/detect/data/detector.json
    python scripts/train_detector.py --out /tmp/model.json --seed 1
    python scripts/train_detector.py --judgements judged.jsonl   # + analysts' judgements

Reproducible: a fixed seed, folds grouped by situation, and the labelled files' hash recorded
in the model (`meta.trained_on`; `meta.judgements` for judgement files). `--judgements FILE`
(a `banwatch review export` file, repeatable) adds each judged event's candidate as a
positive (confirmed) or a negative (rejected); `--without-sets` trains on judgements alone
(a quick check, not a model to ship). Cross-validated figures of the same procedure:
`python -m bench.crossval` (docs/detection.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from banwatch.enrich.detect.features import feature_matrix  # noqa: E402
from banwatch.enrich.detect.training import (  # noqa: E402
    build,
    build_judged,
    combine,
    data_version,
    fit,
    read_judgements,
)

from bench.crossval import load_all  # noqa: E402
from bench.labelled import set_dirs, set_files  # noqa: E402

OUT = ROOT / "enrich/detect/data/detector.json"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--judgements",
        action="append",
        default=[],
        metavar="FILE",
        help="a `banwatch review export` file (JSONL or .csv); repeatable",
    )
    ap.add_argument(
        "--without-sets", action="store_true", help="train on the judgement files alone"
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dirs = {} if args.without_sets else set_dirs()
    rows, gold, _events = load_all() if dirs else ([], {}, {})
    data = build(rows, gold)
    judged_meta = {}
    if args.judgements:
        judged = build_judged([r for path in args.judgements for r in read_judgements(path)])
        data = combine(data, judged)
        judged_meta = {
            "judgements": {
                "files": data_version(args.judgements),
                "events": len(judged.rows),
                "candidates": int(len(judged.y)),
                "not_found": judged.missed,
            }
        }
    if len(set(data.y)) < 2:
        ap.error("the training data need both positive and negative candidates")
    x = feature_matrix(data.batch.named, data.names)
    model = fit(
        x, data.y, data.groups, data.names,
        seed=args.seed,
        meta={
            "trained_on": data_version(set_files(dirs)),
            "sets": sorted(dirs),
            "articles": len(rows),
            **judged_meta,
            "trained_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )  # fmt: skip
    model.save(args.out)
    size = Path(args.out).stat().st_size
    print(f"wrote {args.out} ({size / 1024:.0f} KiB): {model.meta}")


if __name__ == "__main__":
    main()
