"""The detector's quality floors on labelled sets hold (bench/gate.py pins them).

A set in this repository (bench/devset, and bench/holdout once written) is always gated; the
shared labelled set only where the machine has it. Lowering a floor takes an explicit
`python -m bench.gate --pin --allow-lower`.
"""

from __future__ import annotations

import pytest

from bench import gate

SETS = gate.available()


@pytest.mark.parametrize("name", sorted(SETS))
def test_detector_holds_its_pinned_floors(name: str) -> None:
    measured = gate.measure(name, SETS[name])
    assert gate.problems(measured, gate.load_baseline()) == []


def test_the_sets_in_the_repository_are_gated() -> None:
    assert "devset" in SETS
    assert "devset" in gate.load_baseline()
