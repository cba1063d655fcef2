"""Throughput of one `banwatch run` pass over the sample corpus served on 127.0.0.1.

Prints articles per second for the whole pass and per stage, peak memory, and the ratio
against a baseline pass with one request in flight (fetch.concurrency = 1), so the effect
of overlapping network waits is visible. The corpus is replicated `--copies` times under new
slugs (each copy is a distinct article to fetch, extract, embed and detect) so the figures are
not dominated by start-up. The model load is timed separately and excluded from the rates.

    python bench/throughput.py --copies 10
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support

from banwatch import pipeline
from banwatch.config import load_settings
from banwatch.demo import write_config
from banwatch.sample import load_sample
from tests.support.mailsink import MailSink
from tests.support.newsroom import Newsroom


def replicated(copies: int) -> list:
    items = load_sample(max_phase=1)
    out = []
    for i in range(copies):
        for item in items:
            out.append(dataclasses.replace(item, slug=f"{item.slug}-c{i}") if i else item)
    return out


def one_pass(items: list, concurrency: int) -> dict[str, float]:
    stages: dict[str, float] = {}
    last = [time.perf_counter()]

    def progress(stage: str, counts: dict) -> None:
        now = time.perf_counter()
        stages[stage] = stages.get(stage, 0.0) + now - last[0]
        last[0] = now

    with tempfile.TemporaryDirectory() as tmp, Newsroom(items) as newsroom, MailSink() as sink:
        config = write_config(Path(tmp), newsroom, sink.port)
        settings = load_settings(config)
        settings = settings.replace(fetch=settings.fetch.replace(concurrency=concurrency))
        started = time.perf_counter()
        last[0] = started
        summary = pipeline.run_pass(settings, progress=progress)
        total = time.perf_counter() - started
    return {"total": total, "articles": summary.new_articles, **stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=10, help="copies of the sample corpus")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--no-baseline", action="store_true", help="skip the concurrency=1 pass")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from banwatch.enrich.embed import load_embedder

    t = time.perf_counter()
    load_embedder()
    model_load = time.perf_counter() - t
    items = replicated(args.copies)
    one_pass(items[:5], args.concurrency)  # warm-up: imports, first-call costs

    result = one_pass(items, args.concurrency)
    n = result["articles"]
    print(f"corpus: {len(items)} articles ({args.copies} copies of the sample), 2-core machine")
    print(f"model load (once per process, excluded): {model_load:.2f} s")
    print(f"pass: {result['total']:.2f} s, {n} new articles, {n / result['total']:.1f} articles/s")
    for stage in ("poll", "fetch", "stories", "detect", "load", "alerts"):
        if stage in result:
            secs = result[stage]
            print(
                f"  {stage:<8} {secs:7.2f} s  {n / secs if secs else float('inf'):8.1f} articles/s"
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak_mb:.0f} MB")
    if not args.no_baseline:
        base = one_pass(items, 1)
        print(
            f"baseline concurrency=1: {base['total']:.2f} s "
            f"({base['articles'] / base['total']:.1f} articles/s); "
            f"speed-up x{base['total'] / result['total']:.2f}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
