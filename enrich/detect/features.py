"""Features of a candidate event for the learned model: the rules' signals and cue families.

Cue families are features, not verdicts: a modal or a call near "ban" lowers the odds of a
reported step without vetoing it. MiniLM embeddings of the evidence sentence and of headline +
lead were tried as features too and dropped: over the four labelled sets, grouped 5-fold
cross-validated candidate AUC was 0.875 with them (logistic regression) against 0.889 without,
and 0.903 for boosted trees on these named features alone (2026-12-03, docs/detection.md), so
detection embeds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
from banwatch.enrich import lexicon as lx
from banwatch.enrich.detect.article import Candidate

# Cue families read in the evidence sentence and in the headline.
CUES: Mapping[str, re.Pattern[str]] = {
    "ban": lx.BAN,
    "lift": lx.LIFT,
    "propose": lx.PROPOSE,
    "modal": lx.MODAL,
    "call": lx.CALL,
    "negation": lx.NEGATION,
    "enacted": lx.ENACTED,
    "not_yet": lx.LIFT_NOT_YET,
    "gov_devices": lx.GOV_DEVICES,
    "other_scope": lx.OTHER_SCOPE,
    "nationwide": lx.NATIONWIDE,
    "subnational": lx.SUBNATIONAL_CUE,
    "company": lx.COMPANY,
    "background": lx.BACKGROUND,
    "also": lx.ALSO,
    "effect_time": lx.EFFECT_TIME,
    "question": lx.HEADLINE_QUESTION,
}


def candidate_features(candidate: Candidate, headline: str) -> dict[str, float]:
    """Every named (non-embedding) feature of one candidate."""
    d = candidate.detection
    feats = dict(candidate.signals)
    for name, rx in CUES.items():
        feats[f"ev:{name}"] = float(bool(rx.search(d.evidence)))
        feats[f"hl:{name}"] = float(bool(rx.search(headline)))
    feats[f"scope={d.scope}"] = 1.0
    feats["background"] = float(d.background)
    feats["has_body"] = float(bool(d.body))
    feats["rule_keep"] = float(candidate.rule_keep)
    feats["rule_confidence"] = d.confidence
    feats["evidence_is_headline"] = float(d.evidence.strip() == headline.strip())
    return feats


def feature_matrix(named: Sequence[Mapping[str, float]], names: Sequence[str]) -> np.ndarray:
    """Rows of the named features in `names` order.

    A name a row lacks is 0 (a one-hot value it does not have); a key not in `names` is ignored,
    so a model keeps working when the rules grow a new signal it was not trained on.
    """
    table = np.zeros((len(named), len(names)), dtype=np.float64)
    index = {n: i for i, n in enumerate(names)}
    for r, feats in enumerate(named):
        for key, value in feats.items():
            col = index.get(key)
            if col is not None:
                table[r, col] = value
    return table
