"""The detector holds its committed baseline within the tolerance band (bench/gate.py).

Article mode runs on the repository's own sets (bench/devset, bench/holdout) everywhere, and on
the shared sets (eval, eval-fulltext) where `shared/` sits beside the clone (as in CI) or at
/work/shared; elsewhere those are skipped, saying so. Re-baselining is `python -m bench.gate
--pin`. The band itself is tested on the real gate command with a baseline file of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import gate

REPO = Path(__file__).resolve().parent.parent
ALL_SETS = gate.sets()
HERE = gate.available()


@pytest.mark.parametrize("name", sorted(ALL_SETS))
def test_detector_holds_its_baseline(name: str) -> None:
    if name not in HERE:
        pytest.skip(
            f"{name}: no shared/ folder beside the clone ({REPO.parent / 'shared'}) "
            "nor /work/shared on this machine; the repository's own sets are still gated"
        )
    measured = gate.measure(name, HERE[name])
    assert gate.problems(measured, gate.load_baseline()) == []


def test_the_sets_in_the_repository_are_gated() -> None:
    baseline = gate.load_baseline()
    for name in ("devset", "holdout"):
        assert name in HERE
        assert "article" in baseline["results"][name]


def _gate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench.gate", "--sets", "devset", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )


def test_gate_passes_within_the_band_and_fails_beyond_it(tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    pinned = _gate("--pin", "--baseline", str(baseline))
    assert pinned.returncode == 0, pinned.stderr
    assert _gate("--baseline", str(baseline)).returncode == 0  # the figures just pinned

    data = json.loads(baseline.read_text())
    figures = data["results"]["devset"]["article"]
    # a baseline a little above today's recall: inside the band, still a pass
    figures["recall"] = round(figures["recall"] + 0.02, 4)
    baseline.write_text(json.dumps(data))
    assert _gate("--baseline", str(baseline)).returncode == 0

    # well above: today's detector is a real regression from it
    figures["recall"] = round(figures["recall"] + 0.05, 4)
    baseline.write_text(json.dumps(data))
    failed = _gate("--baseline", str(baseline))
    assert failed.returncode == 1
    assert "devset article: recall" in failed.stderr

    # a tighter band in the baseline file applies
    figures["recall"] -= 0.05
    data["tolerance"] = {"default": 0.01}
    baseline.write_text(json.dumps(data))
    assert "recall" in _gate("--baseline", str(baseline)).stderr


def test_improvements_pass_and_lower_is_better_rates_have_a_ceiling() -> None:
    baseline = {
        "tolerance": {"default": 0.03, "false_alarm_events_per_1000_pages": 4.0},
        "results": {
            "realpages": {
                "sha256": "abc",
                "realpages": {
                    "false_alarm_events_per_1000_pages": 10.0,
                    "false_alarm_emails_per_1000_pages": 0.0,
                },
            }
        },
    }

    def measured(events: float, emails: float) -> gate.Measured:
        return gate.Measured(
            "realpages",
            "realpages",
            "abc",
            {
                "false_alarm_events_per_1000_pages": events,
                "false_alarm_emails_per_1000_pages": emails,
            },
        )

    assert gate.problems(measured(0.0, 0.0), baseline) == []  # fewer false alarms: better
    assert gate.problems(measured(13.9, 0.0), baseline) == []  # within +4
    (problem,) = gate.problems(measured(15.5, 0.0), baseline)
    assert "false_alarm_events_per_1000_pages 15.5000 > baseline 10.0000" in problem
    assert gate.problems(measured(10.0, 4.5), baseline) != []  # the built-in band: 4 per 1,000


def test_a_changed_set_is_an_error_that_says_how_to_rebaseline() -> None:
    measured = gate.Measured("devset", "article", "0" * 64, {"precision": 1.0})
    (problem,) = gate.problems(measured, gate.load_baseline())
    assert "files changed" in problem
    assert "python -m bench.gate --pin" in problem
