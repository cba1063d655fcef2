"""The learned decision layer: the packaged model, its file format, and what it decides on
sentences of our own (calls, company rules and look-backs are not news; clear steps are)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from banwatch.enrich.detect import detect_ban_events, find_candidates, load_model
from banwatch.enrich.detect.decide import ArticleCandidates, featurize
from banwatch.enrich.detect.features import feature_matrix
from banwatch.enrich.detect.model import DetectorModel
from banwatch.enrich.detect.training import build, cross_validate, fit

from banwatch.errors import BanwatchError
from banwatch.records import Article

PUB = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
ALERT = 0.88  # alerts.min_confidence, chosen on cross-validation (docs/detection.md)


def article(i: int, title: str, text: str = "") -> Article:
    return Article(f"a{i}", f"https://news.example/{i}", "wire", title, text, PUB)


def decided(title: str, text: str = "") -> list:
    found, _counts = detect_ban_events([article(0, title, text)])
    return found


def test_packaged_model_is_small_calibrated_and_round_trips(tmp_path):
    model = load_model()
    assert model.meta["trained_on"] and model.meta["seed"] == 0
    assert np.all(np.diff(model.calib_y) >= 0) and 0 <= model.calib_y[0] < model.calib_y[-1] <= 1
    path = tmp_path / "m.json"
    model.save(path)
    assert path.stat().st_size < 1_000_000
    again = load_model(str(path))
    x = np.random.default_rng(0).integers(0, 3, size=(40, len(model.names))).astype(float)
    assert np.allclose(again.probability(x), model.probability(x))


def test_a_broken_model_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(BanwatchError, match=r"^detect.model_path: .* is not a banwatch-detector"):
        load_model(str(bad))
    with pytest.raises(BanwatchError, match="does not exist"):
        load_model(str(tmp_path / "missing.json"))


def test_a_clear_government_step_is_confident_news():
    found = decided(
        "Norway bans Telegram on ministry laptops, effective immediately",
        "The digital affairs ministry told staff on Monday to delete the messaging app "
        "from all official devices.",
    )
    news = [d for d in found if not d.background]
    assert [(d.country, d.app, d.scope, d.action) for d in news] == [
        ("NO", "Telegram", "government_devices", "ban")
    ]
    assert news[0].confidence >= ALERT


def test_a_lifting_keeps_its_action():
    found = decided(
        "Chile lifts its block on Telegram after court ruling",
        "Access to the messaging app was restored across the country on Friday.",
    )
    assert [(d.country, d.action) for d in found if not d.background] == [("CL", "lifted")]


def test_a_call_for_a_ban_is_not_an_event():
    found = decided(
        "Opposition MPs in Norway call for a ban on Telegram",
        "The proposal has no majority and the government says it has no plans to act.",
    )
    assert [d for d in found if not d.background] == []


def test_a_company_rule_is_never_alert_worthy():
    found = decided(
        "Bank in Oslo tells its staff to stop using WhatsApp",
        "The lender said it acted after a review of its own compliance rules.",
    )
    assert all(d.confidence < ALERT for d in found if not d.background)


def test_a_look_back_is_background_only():
    found = decided(
        "Ten years ago Turkey blocked Twitter",
        "A look back at the week the network went dark in 2014.",
    )
    assert found and all(d.background for d in found)


def test_confidence_comes_from_the_model_and_the_floor_drops_the_rest():
    articles = [
        article(1, "Estonia orders TikTok off civil servants' work phones"),
        article(2, "Kenya bans plastic bags"),
    ]
    found, counts = detect_ban_events(articles, min_confidence=0.2)
    assert counts["with_candidates"] == 1
    [d] = found
    model = load_model()
    items = [
        ArticleCandidates("a1", articles[0].title, find_candidates(articles[0].title, "", PUB))
    ]
    batch = featurize(items)
    p = model.probability(feature_matrix(batch.named, model.names))
    assert d.confidence == pytest.approx(float(p.max()), abs=1e-4)
    rules, _ = detect_ban_events(articles, decider="rules")
    assert [r.article_id for r in rules] == ["a1"] and rules[0].confidence != d.confidence


# A tiny labelled set of our own, in the labelled sets' format, to exercise training.
STEPS = [
    ("NO", "Telegram", "Norway bans Telegram on government phones"),
    ("SE", "TikTok", "Sweden orders TikTok off official devices"),
    ("FI", "WeChat", "Finland bars WeChat from state laptops"),
    ("DK", "DeepSeek", "Denmark blocks DeepSeek on ministry computers"),
    ("IS", "Telegram", "Iceland removes Telegram from civil servants' phones"),
    ("EE", "TikTok", "Estonia prohibits TikTok on work phones of officials"),
    ("LV", "WeChat", "Latvia bans WeChat on government devices"),
    ("LT", "DeepSeek", "Lithuania orders DeepSeek off public-sector devices"),
]
CALLS = [
    ("Norwegian columnist urges ban on Telegram", ""),
    ("Should Sweden ban TikTok on official devices?", ""),
    ("Finnish bank tells staff not to use WeChat", ""),
    ("Danish students want DeepSeek blocked at their school", ""),
    ("Icelandic newspaper asks whether Telegram should be banned", ""),
    ("Estonian firm removes TikTok from company phones", ""),
    ("Latvian lawmaker says WeChat ban should be considered", ""),
    ("Lithuanian think tank calls for DeepSeek restrictions", ""),
]


def tiny_set():
    rows, gold = [], {}
    for i, (cc, app, title) in enumerate(STEPS):
        gold[f"E{i}"] = {
            "country": cc, "subdivision": "", "app": app, "scope": "government_devices",
            "action": "ban", "announced_on": "2026-03-02",
        }  # fmt: skip
        rows.append({"item_id": f"p{i}", "label": "new_event", "event_id": f"E{i}",
                     "headline": title, "lead": "", "published": "2026-03-02T09:00:00Z",
                     "lang": "en"})  # fmt: skip
    for i, (title, lead) in enumerate(CALLS):
        rows.append({"item_id": f"n{i}", "label": "opinion_or_call", "event_id": "",
                     "headline": title, "lead": lead, "published": "2026-03-02T09:00:00Z",
                     "lang": "en"})  # fmt: skip
    return rows, gold


def test_training_is_reproducible_and_scores_unseen_folds():
    rows, gold = tiny_set()
    data = build(rows, gold)
    assert data.event_articles == len(STEPS) and int(data.y.sum()) >= 6
    x = feature_matrix(data.batch.named, data.names)
    one = fit(x, data.y, data.groups, data.names, seed=3).to_json()
    two = fit(x, data.y, data.groups, data.names, seed=3).to_json()
    assert one == two
    model = DetectorModel.from_json(one)
    assert model.probability(x).shape == (len(data.y),)
    probs = cross_validate(data, folds=4, seed=3)
    assert probs.shape == data.y.shape and np.all((0 <= probs) & (probs <= 1))
