"""Factories for the records tests build by hand, importable from any test module.

Not conftest: `from conftest import ...` works only while pytest puts `tests/` on `sys.path` (its
default "prepend" import mode, one conftest of that name); `tests.support` is a package on the
configured `pythonpath`, so `from tests.support.factories import make_detection` holds in every
import mode and from the benches and scripts too.
"""

from __future__ import annotations

import datetime as dt

from banwatch.records import Detection

# The tests' reference moment (`conftest.NOW` is this one).
NOW = dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC)


def make_detection(article_id: str = "a1", **overrides: object) -> Detection:
    """One detection as the detector would emit it: a national TikTok ban on Norway's government
    devices announced on `NOW`'s date. Tests override only the fields their behaviour depends on,
    so what a test is about stays visible at the call site."""
    fields: dict[str, object] = {
        "jurisdiction": "Norway",
        "country": "NO",
        "subdivision": None,
        "level": "national",
        "app": "TikTok",
        "scope": "government_devices",
        "action": "ban",
        "announced_on": NOW.date(),
        "confidence": 0.8,
    }
    fields.update(overrides)
    fields.setdefault(
        "evidence", f"Ministers may no longer install {fields['app']} on their official handsets."
    )
    return Detection(article_id=article_id, **fields)  # type: ignore[arg-type]
