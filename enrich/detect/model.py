"""The learned decision: is this candidate a government's step on an app, reported as news?

Gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier, exported as plain node
arrays) over the candidate's named features (`enrich.detect.features`), their score mapped to a
calibrated probability by Platt scaling fitted on cross-validated scores, so "0.9" means
nine in ten such events were right on situations the model had not seen. Inference needs only
numpy; `scripts/train_detector.py` writes the JSON file with scikit-learn.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from banwatch.errors import BanwatchError

logger = logging.getLogger(__name__)

FORMAT = "banwatch-detector/2"
DEFAULT_MODEL = "detector.json"  # package data of enrich.detect.data
NODE_FIELDS = ("feature", "threshold", "left", "right", "value", "leaf")


@dataclass(frozen=True)
class Tree:
    """One regression tree: node i splits on `feature[i] <= threshold[i]` (left) or is a leaf."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    leaf: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        node = np.zeros(len(x), dtype=np.int64)
        rows = np.arange(len(x))
        while True:
            inner = ~self.leaf[node]
            if not inner.any():
                return self.value[node]
            n = node[inner]
            go_left = x[rows[inner], self.feature[n]] <= self.threshold[n]
            node[inner] = np.where(go_left, self.left[n], self.right[n])

    def to_json(self) -> dict:
        return {
            "feature": self.feature.tolist(),
            "threshold": [round(float(v), 6) for v in self.threshold],
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "value": [round(float(v), 6) for v in self.value],
            "leaf": [int(v) for v in self.leaf],
        }

    @classmethod
    def from_json(cls, t: dict) -> Tree:
        return cls(
            feature=np.asarray(t["feature"], dtype=np.int64),
            threshold=np.asarray(t["threshold"], dtype=np.float64),
            left=np.asarray(t["left"], dtype=np.int64),
            right=np.asarray(t["right"], dtype=np.int64),
            value=np.asarray(t["value"], dtype=np.float64),
            leaf=np.asarray(t["leaf"], dtype=bool),
        )


def trees_from_sklearn(fitted: Any) -> tuple[Tree, ...]:
    """The node arrays of a fitted binary HistGradientBoostingClassifier, one Tree per round."""
    trees = []
    for (predictor,) in fitted._predictors:  # one predictor per boosting round (binary task)
        nodes = predictor.nodes
        trees.append(
            Tree(
                feature=nodes["feature_idx"].astype(np.int64),
                threshold=nodes["num_threshold"].astype(np.float64),
                left=nodes["left"].astype(np.int64),
                right=nodes["right"].astype(np.int64),
                value=nodes["value"].astype(np.float64),
                leaf=nodes["is_leaf"].astype(bool),
            )
        )
    return tuple(trees)


@dataclass(frozen=True)
class DetectorModel:
    """The decision model's trees and its calibration map."""

    names: tuple[str, ...]  # named features, in column order
    baseline: float  # raw score before any tree
    trees: tuple[Tree, ...]
    calib_x: np.ndarray  # calibration knots: raw score -> calibrated probability
    calib_y: np.ndarray
    meta: dict

    def score(self, features: np.ndarray) -> np.ndarray:
        """Raw decision scores (log-odds before calibration), one per row."""
        raw = np.full(len(features), self.baseline)
        for tree in self.trees:
            raw += tree.predict(features)
        return raw

    def probability(self, features: np.ndarray) -> np.ndarray:
        """Calibrated probabilities that each row is a correct news event."""
        if len(features) == 0:
            return np.zeros(0)
        return np.interp(self.score(features), self.calib_x, self.calib_y)

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "names": list(self.names),
            "baseline": round(self.baseline, 6),
            "trees": [t.to_json() for t in self.trees],
            "calib_x": [round(float(v), 6) for v in self.calib_x],
            "calib_y": [round(float(v), 6) for v in self.calib_y],
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict, where: str = "model") -> DetectorModel:
        if data.get("format") != FORMAT:
            raise BanwatchError(
                f"detect.model_path: {where} is not a {FORMAT} file; "
                "write one with scripts/train_detector.py"
            )
        n = len(data["names"])
        trees = []
        for t in data["trees"]:
            tree = Tree.from_json(t)
            if tree.feature.size and (tree.feature.max() >= n or tree.left.max() >= tree.leaf.size):
                raise BanwatchError(f"detect.model_path: {where} has broken trees; retrain it")
            trees.append(tree)
        return cls(
            names=tuple(data["names"]),
            baseline=float(data["baseline"]),
            trees=tuple(trees),
            calib_x=np.asarray(data["calib_x"], dtype=np.float64),
            calib_y=np.asarray(data["calib_y"], dtype=np.float64),
            meta=dict(data.get("meta", {})),
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), separators=(",", ":")) + "\n")


@lru_cache(maxsize=4)
def load_model(path: str = "") -> DetectorModel:
    """The model at `path`, or the packaged one for '' (loaded once per process)."""
    where = path or f"the packaged {DEFAULT_MODEL}"
    try:
        if path:
            text = Path(path).read_text()
        else:
            text = (
                resources.files("banwatch.enrich.detect.data").joinpath(DEFAULT_MODEL).read_text()
            )
        data = json.loads(text)
    except FileNotFoundError:
        raise BanwatchError(
            f"detect.model_path: {where} does not exist; set it to a file written by "
            "scripts/train_detector.py, or to '' for the packaged one"
        ) from None
    except (OSError, ValueError) as exc:
        raise BanwatchError(f"detect.model_path: cannot read {where}: {exc}") from exc
    model = DetectorModel.from_json(data, where)
    logger.info("detector model %s (trained on %s)", where, model.meta.get("trained_on", "?"))
    return model
