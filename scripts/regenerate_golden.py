"""Regenerate the golden extraction fixtures in `tests/fixtures/golden/`.

For each sample outlet, renders its first article in `banwatch/sample/articles.toml` at a fixed
clock and stores the page as `<outlet>.html.gz` and what banwatch's extraction (`ingest.extract`,
trafilatura underneath) makes of it as `<outlet>.json`. `tests/test_sample.py` re-extracts the
stored pages and compares, so a trafilatura upgrade that changes extraction fails loudly.

Run it after changing a template or `ingest.extract` on purpose, then review the JSON diff:

    python scripts/regenerate_golden.py            # rewrite the fixtures
    python scripts/regenerate_golden.py --check    # exit 1 if they are out of date
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, run as a script

from banwatch.sample import load_articles, load_outlets, render_page
from tests.support.sample import golden_extract

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "golden"
# A fixed clock: the stored pages carry absolute dates, so the fixtures never go stale.
GOLDEN_NOW = dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC)


def golden_files() -> dict[str, tuple[bytes, str]]:
    """outlet -> (gzipped page, JSON text) as they should be on disk."""
    first: dict[str, object] = {}
    for article in load_articles():
        first.setdefault(article.outlet, article)
    files = {}
    for outlet in load_outlets():
        article = first[outlet]
        html = render_page(article, GOLDEN_NOW)  # type: ignore[arg-type]
        record = {
            "outlet": outlet,
            "slug": article.slug,  # type: ignore[attr-defined]
            "rendered_at": GOLDEN_NOW.isoformat(),
            **golden_extract(html),
        }
        page = gzip.compress(html.encode("utf-8"), mtime=0)  # mtime=0: byte-stable output
        files[outlet] = (page, json.dumps(record, ensure_ascii=False, indent=2) + "\n")
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale fixtures")
    args = parser.parse_args(argv)
    stale = []
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for outlet, (page, record) in golden_files().items():
        page_path, json_path = GOLDEN_DIR / f"{outlet}.html.gz", GOLDEN_DIR / f"{outlet}.json"
        current = json_path.read_text(encoding="utf-8") if json_path.exists() else None
        old_page = page_path.read_bytes() if page_path.exists() else None
        if (
            current == record
            and old_page is not None
            and gzip.decompress(old_page) == gzip.decompress(page)
        ):
            continue
        stale.append(outlet)
        if not args.check:
            page_path.write_bytes(page)
            json_path.write_text(record, encoding="utf-8")
    verb = "stale" if args.check else "rewritten"
    print(f"golden fixtures {verb}: {', '.join(stale) or 'none'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
