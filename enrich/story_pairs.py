"""The learned pair decision of story grouping: may article `a` join candidate article `b`?

Depth-2 gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier, exported as plain
node arrays like the detector's, `enrich.detect.model.Tree`) over a pair's named features: the
embedding cosine, the time gap, the titles' word overlap, shared or conflicting places, apps and
actions (from the signatures), the languages and whether the model understands them. A pair
joins when its score reaches the model's cut, chosen at training time as the best pooled pair F1
on the labelled sets among cuts that merge no two unrelated real pages. Inference needs only
numpy; `scripts/train_story_pairs.py` writes the JSON file (docs/stories.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from banwatch.enrich.detect.model import Tree

from banwatch.errors import BanwatchError

if TYPE_CHECKING:
    from banwatch.enrich.dedupe import Signature

logger = logging.getLogger(__name__)

# 2: 30 features (signature v2: weak places, comment); 3: 32 (signature v3: company actions);
# 4: 34 (signature v4: the names two leads share)
FORMAT = "banwatch-story-pairs/4"
MODEL_FILE = Path(__file__).with_name("data") / "story_pairs.json"  # package data of enrich.data

FEATURES: tuple[str, ...] = (
    "cosine",
    "gap_days",
    "title_jaccard",
    "title_shared_words",
    "same_language",
    "both_understood",
    "one_understood",
    "places_both",
    "places_shared",
    "places_nested",
    "places_disjoint",
    "places_any",
    "apps_both",
    "apps_shared",
    "apps_disjoint",
    "apps_any",
    "actions_both",
    "actions_same",
    "actions_differ",
    "min_title_words",
    "cosine_if_understood",
    "places_shared_count",
    "apps_shared_count",
    "strong_places_nested",
    "weak_places_any",
    "title_length_ratio",
    "numbers_shared",
    "numbers_differ",
    "comment_any",
    "actions_ban_vs_lifted",
    "company_any",
    "companies_shared",
    "lead_names_shared",
    "lead_names_jaccard",
)


def pair_features(
    cosine: float,
    gap_seconds: float,
    a: Signature,
    b: Signature,
    model_languages: Collection[str],
) -> list[float]:
    """One pair's features, in `FEATURES` order."""
    from banwatch.enrich.dedupe import _jaccard, understood

    ua, ub = understood(a.language, model_languages), understood(b.language, model_languages)
    places_both, places_shared = bool(a.places and b.places), bool(a.places & b.places)
    apps_both, apps_shared = bool(a.apps and b.apps), bool(a.apps & b.apps)
    actions_both, actions_same = bool(a.actions and b.actions), bool(a.actions & b.actions)
    return [
        cosine,
        abs(gap_seconds) / 86400.0,
        _jaccard(a.words, b.words),
        float(len(a.words & b.words)),
        float(a.language == b.language),
        float(ua and ub),
        float(ua or ub),
        float(places_both),
        float(places_shared),
        float(places_both and (a.places <= b.places or b.places <= a.places)),
        float(places_both and not places_shared),
        float(bool(a.places or b.places)),
        float(apps_both),
        float(apps_shared),
        float(apps_both and not apps_shared),
        float(bool(a.apps or b.apps)),
        float(actions_both),
        float(actions_both and actions_same),
        float(actions_both and not actions_same),
        float(min(len(a.words), len(b.words))),
        cosine * float(ua and ub),
        *_v2_features(a, b),
        *_lead_features(a, b, _jaccard),
    ]


def _lead_features(
    a: Signature, b: Signature, jaccard: Callable[[frozenset[str], frozenset[str]], float]
) -> list[float]:
    """Signature v4: the names (people, bodies, places, firms) both leads use, count and
    Jaccard. Names mostly survive translation and paraphrase where title words and the English
    embedding do not. (An article with no text, or a signature older than v4, has its title's
    words as lead names: `story_signature`, `Signature.of`.) `jaccard` is the caller's: an
    import per pair costs as much as the features."""
    na, nb = a.lead_names, b.lead_names
    return [float(len(na & nb)), jaccard(na, nb)]


def _v2_features(a: Signature, b: Signature) -> list[float]:
    """The features added with signatures v2 and v3 (older signatures: no weak places, no
    comment, no company)."""
    from banwatch.enrich.dedupe import _places_conflict

    sa, sb = a.strong_places, b.strong_places
    na, nb = {w for w in a.words if w.isdigit()}, {w for w in b.words if w.isdigit()}
    sides = ({"lifted" in a.actions, "lifted" in b.actions} == {True, False}) and bool(
        a.actions and b.actions
    )
    return [
        float(len(a.places & b.places)),
        float(len(a.apps & b.apps)),
        float(bool(sa and sb) and not _places_conflict(a, b, nested=True)),
        float(bool(a.weak_places or b.weak_places)),
        min(len(a.words), len(b.words)) / max(len(a.words), len(b.words), 1),
        float(len(na & nb)),
        float(bool(na and nb and not na & nb)),
        float(a.comment or b.comment),
        float(sides),
        float(a.company or b.company),  # v3: a company's or the app's own step
        float(bool(a.companies & b.companies)),
    ]


@dataclass(frozen=True)
class PairModel:
    """The pair decision's trees and its cut (on the raw score, log-odds)."""

    names: tuple[str, ...]
    baseline: float
    trees: tuple[Tree, ...]
    cut: float
    floor: float  # no pair below this cosine is looked at (none joined in training either)
    meta: dict

    def score(self, features: np.ndarray) -> np.ndarray:
        """Raw scores (log-odds that the pair reports one development), one per row."""
        if (split := self._depth2) is not None:
            return self._score_depth2(features, split)
        feature, threshold, left, right, value, depth = self._stacked
        rows, trees = np.arange(len(features))[:, None], np.arange(len(self.trees))[None, :]
        node = np.zeros((len(features), len(self.trees)), dtype=np.int64)
        for _ in range(depth):  # every tree at once: a leaf points to itself
            f = feature[trees, node]
            go_left = features[rows, f] <= threshold[trees, node]
            node = np.where(go_left, left[trees, node], right[trees, node])
        return self.baseline + value[trees, node].sum(axis=1)

    def _score_depth2(self, x: np.ndarray, split: tuple[np.ndarray, ...]) -> np.ndarray:
        """Trees of depth <= 2 as four leaves each: a third of the general path's cost on a
        batch of 16 candidates (numpy's per-call overhead dominates at these sizes)."""
        root_f, root_t, left_f, left_t, right_f, right_t, leaves = split
        right = x[:, root_f] > root_t
        child = np.where(right, x[:, right_f] > right_t, x[:, left_f] > left_t)
        return self.baseline + leaves[np.arange(len(leaves)), 2 * right + child].sum(axis=1)

    @cached_property
    def _depth2(self) -> tuple[np.ndarray, ...] | None:
        """Per tree: the root's and both children's splits and the leaves [LL, LR, RL, RR]; a
        missing split never goes right (threshold inf). None when a tree is deeper."""
        if any(_depth(t) > 2 for t in self.trees) or not self.trees:
            return None
        count = len(self.trees)
        feat = np.zeros((3, count), np.int64)
        thr = np.full((3, count), np.inf)
        leaves = np.zeros((count, 4))
        for j, t in enumerate(self.trees):
            if t.leaf[0]:
                leaves[j] = t.value[0]
                continue
            feat[0, j], thr[0, j] = t.feature[0], t.threshold[0]
            for side, node in ((1, int(t.left[0])), (2, int(t.right[0]))):
                pair = slice(2 * side - 2, 2 * side)
                if t.leaf[node]:
                    leaves[j, pair] = t.value[node]
                else:
                    feat[side, j], thr[side, j] = t.feature[node], t.threshold[node]
                    leaves[j, pair] = t.value[int(t.left[node])], t.value[int(t.right[node])]
        return feat[0], thr[0], feat[1], thr[1], feat[2], thr[2], leaves

    @cached_property
    def _stacked(self) -> tuple[np.ndarray, ...]:
        """The trees as padded (tree, node) arrays, leaves looping to themselves: one numpy pass
        per level scores all trees (a pair decision per candidate must cost microseconds)."""
        width = max((t.leaf.size for t in self.trees), default=1)
        shape = (max(len(self.trees), 1), width)
        feature, threshold = np.zeros(shape, np.int64), np.full(shape, np.inf)
        left = np.tile(np.arange(width), (shape[0], 1))
        right, value = left.copy(), np.zeros(shape)
        for j, t in enumerate(self.trees):
            inner = np.flatnonzero(~t.leaf)
            feature[j, inner], threshold[j, inner] = t.feature[inner], t.threshold[inner]
            left[j, inner], right[j, inner] = t.left[inner], t.right[inner]
            value[j, : t.leaf.size] = np.where(t.leaf, t.value, 0.0)
        return feature, threshold, left, right, value, max(map(_depth, self.trees), default=0)

    def accepts(self, features: Sequence[Sequence[float]]) -> np.ndarray:
        """Which pairs may join (bool per row)."""
        x = np.asarray(features, dtype=np.float64).reshape(-1, len(self.names))
        return self.score(x) >= self.cut if len(x) else np.zeros(0, dtype=bool)

    def with_cut(self, cut: float) -> PairModel:
        return PairModel(self.names, self.baseline, self.trees, cut, self.floor, self.meta)

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "names": list(self.names),
            "baseline": round(self.baseline, 6),
            "cut": round(self.cut, 6),
            "floor": self.floor,
            "trees": [t.to_json() for t in self.trees],
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict, where: str = "model") -> PairModel:
        if data.get("format") != FORMAT or list(data.get("names", ())) != list(FEATURES):
            raise BanwatchError(
                f"dedupe: {where} is not a {FORMAT} file with today's features; "
                "write one with scripts/train_story_pairs.py"
            )
        trees = tuple(Tree.from_json(t) for t in data["trees"])
        return cls(
            tuple(data["names"]),
            float(data["baseline"]),
            trees,
            float(data["cut"]),
            float(data["floor"]),
            dict(data.get("meta", {})),
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), separators=(",", ":")) + "\n")


def _depth(tree: Tree, node: int = 0) -> int:
    if tree.leaf[node]:
        return 0
    return 1 + max(_depth(tree, int(tree.left[node])), _depth(tree, int(tree.right[node])))


@lru_cache(maxsize=1)
def load_pair_model() -> PairModel:
    """The packaged model (loaded once per process)."""
    try:
        data = json.loads(MODEL_FILE.read_text())
    except (OSError, ValueError) as exc:
        raise BanwatchError(
            f"dedupe.decider = 'model': cannot read {MODEL_FILE.name} ({exc}); "
            "set dedupe.decider = 'rules' or run scripts/train_story_pairs.py"
        ) from None
    model = PairModel.from_json(data, f"the packaged {MODEL_FILE.name}")
    logger.info("story pair model (trained on %s)", model.meta.get("trained_on", "?"))
    return model
