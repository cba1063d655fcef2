"""Pass time with a silent and a trickling feed, against `fetch.timeout`.

Polls three feeds on 127.0.0.1 in one batch, as a pass does: one that accepts and never
answers, one that answers a byte every `--gap` seconds, and a healthy one. Runs twice: with
`fetch.request_deadline` and `fetch.retry_budget` at their defaults scaled to `--timeout`
(defaults 20 / 30 / 40 s), and "unbounded" (both effectively off, the behaviour before them),
where only the per-read timeout applies. Prints the wall time and each feed's reason.

    python bench/slow_feeds.py --timeout 20 --gap 1
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from banwatch.ingest.feeds import fetch_feeds  # noqa: E402
from banwatch.ingest.http import make_client  # noqa: E402

from banwatch.config import FetchSettings  # noqa: E402
from banwatch.records import FeedSpec  # noqa: E402
from tests.support.newsroom import Newsroom  # noqa: E402
from tests.test_fetch_deadlines import RawServer  # noqa: E402 - the same servers as the test


def one_pass(settings: FetchSettings, gap: float, give_up: float) -> tuple[float, dict]:
    """Poll silent, trickle and healthy feeds once; (seconds, {feed: (reason, attempts)})."""
    with (
        RawServer("silent", give_up_after=give_up) as silent,
        RawServer("trickle", gap=gap, give_up_after=give_up) as trickle,
        Newsroom() as newsroom,
    ):
        newsroom.open_outlets(["healthy"])
        feeds = [
            FeedSpec("silent", silent.url),
            FeedSpec("trickle", trickle.url),
            FeedSpec("healthy", newsroom.feed_url("healthy")),
        ]
        started = time.monotonic()
        with make_client(settings) as client:
            results = fetch_feeds(feeds, {}, client, settings)
        elapsed = time.monotonic() - started
        attempts = {"silent": silent.connections, "trickle": trickle.connections, "healthy": 1}
    return elapsed, {r.feed_name: (r.reason, attempts[r.feed_name]) for r in results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=20.0, help="fetch.timeout, seconds")
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between trickled bytes")
    parser.add_argument(
        "--give-up", type=float, default=120.0, help="servers stop after this (bounds the bench)"
    )
    args = parser.parse_args()
    defaults = FetchSettings()
    scale = args.timeout / defaults.timeout
    bounded = FetchSettings(
        allowed_hosts=["127.0.0.1"],
        timeout=args.timeout,
        request_deadline=defaults.request_deadline * scale,
        retry_budget=defaults.retry_budget * scale,
    )
    unbounded = bounded.replace(request_deadline=1e9, retry_budget=1e9)
    print(
        f"fetch.timeout {args.timeout:g} s, retries {bounded.retries}, trickle 1 byte / "
        f"{args.gap:g} s, servers give up after {args.give_up:g} s"
    )
    for label, settings in (("bounded", bounded), ("unbounded", unbounded)):
        elapsed, outcome = one_pass(settings, args.gap, args.give_up)
        limits = (
            f"request_deadline {settings.request_deadline:g} s, "
            f"retry_budget {settings.retry_budget:g} s"
            if label == "bounded"
            else "no deadline, no budget"
        )
        print(f"{label:9} ({limits}): pass {elapsed:6.1f} s  {outcome}")


if __name__ == "__main__":
    main()
