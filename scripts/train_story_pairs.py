"""Fit story grouping's learned pair decision on every labelled set and write its JSON model.

    python scripts/train_story_pairs.py        # -> enrich/data/story_pairs.json
    python scripts/train_story_pairs.py --out /tmp/pairs.json --seed 1

Reproducible: seed 0 by default, the embedder `embed.*` configures (offline MiniLM, title +
lead at 64 tokens), the Fundus real pages as extra negatives and as the cut's constraint (no
two merged), and the labelled files' hash recorded in the model (`meta.trained_on`). The
cross-validated figures of the same procedure: `python -m bench.eval_dedupe --realpages DIR`
(docs/stories.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from banwatch.enrich.detect.training import data_version  # noqa: E402

from bench.eval_dedupe import (  # noqa: E402
    DEFAULT_INPUT,
    INPUTS,
    embed,
    fit_pair_model,
    load_sets,
    real_page_set,
)
from bench.labelled import SET_NAMES, set_dirs, set_files  # noqa: E402

OUT = ROOT / "enrich/data/story_pairs.json"
REAL_PAGES = Path("/work/corpora/tests/resources/parser/test_data")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window-days", type=float, default=3)
    parser.add_argument("--realpages", type=Path, default=REAL_PAGES, help="Fundus test_data")
    args = parser.parse_args(argv)
    sets = load_sets(list(SET_NAMES), args.window_days)
    if not args.realpages.is_dir():
        raise SystemExit(f"--realpages {args.realpages}: no such folder (the cut needs them)")
    sets.append(real_page_set(args.realpages))
    fn, tokens = INPUTS[DEFAULT_INPUT]
    matrices = {s.name: embed([fn(r) for r in s.rows], tokens) for s in sets}
    everything = {s.name: np.ones(len(s.rows), dtype=bool) for s in sets}
    meta = {
        "trained_on": data_version(set_files(set_dirs())),
        "sets": [s.name for s in sets],
        "embedded_input": DEFAULT_INPUT,
        "window_days": args.window_days,
    }
    model = fit_pair_model(sets, matrices, everything, args.window_days, seed=args.seed, meta=meta)
    model.save(args.out)
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({size} bytes): cut {model.cut}, {model.meta}")


if __name__ == "__main__":
    main()
