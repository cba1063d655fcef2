"""A paraphrased article with the flagship seed's structure: two new events, many recalled ones.

The wording is ours (the seed's sentences are never copied): a national ban in the headline
and lead, a devolved government's own ban deeper down, and older bans recalled near the end.
"""

import datetime as dt

from banwatch.enrich.detect import detect_text

PUBLISHED = dt.datetime(2023, 3, 16, 15, 0, tzinfo=dt.UTC)  # a Thursday

TITLE = "Britain bars ministers from keeping TikTok on official phones"
PARAGRAPHS = (
    "Ministers in the United Kingdom may no longer use the Chinese-owned video app TikTok on "
    "their government phones, officials announced, citing security concerns.",
    "Officials fear that sensitive material on official handsets could reach Beijing.",
    "A senior minister described the step as a precaution that applies straight away.",
    "The company rejects claims that it passes user information to Chinese authorities.",
    "A TikTok executive told reporters the decision was driven by geopolitics rather than "
    "evidence.",
    "Several departments have used the platform to reach younger audiences in recent years.",
    "Ministers can still use the app on their own personal phones, officials said.",
    "The Welsh Government has also banned TikTok from the work phones of its ministers and staff.",
    "In Edinburgh, the Scottish Government said it was reviewing whether further action was "
    "needed.",
    "Washington ordered TikTok off federal devices in December, and the European Commission "
    "did the same for its staff last month.",
    "Canada, Belgium and India have taken similar action.",
    "Western apps such as Facebook and Instagram remain blocked in China.",
)
TEXT = "\n\n".join(PARAGRAPHS)


def test_seed_like_article_yields_two_new_events_and_background_mentions():
    found = detect_text(TITLE, TEXT, PUBLISHED, article_id="seed-like")
    news = sorted(
        (d.country, d.subdivision or "", d.app, d.scope, d.action, d.level)
        for d in found
        if not d.background
    )
    assert news == [
        ("GB", "", "TikTok", "government_devices", "ban", "national"),
        ("GB", "GB-WLS", "TikTok", "government_devices", "ban", "subnational"),
    ]
    wales = next(d for d in found if d.subdivision == "GB-WLS")
    assert wales.jurisdiction == "Wales" and "Welsh Government" in wales.evidence
    uk = next(d for d in found if d.country == "GB" and not d.subdivision)
    assert uk.announced_on == dt.date(2023, 3, 16)
    assert uk.confidence >= 0.8 and all(d.article_id == "seed-like" for d in found)
    background = {d.country for d in found if d.background}
    # exactly the recalled bans: China blocking Western apps is not a TikTok ban
    assert background == {"US", "EU", "CA", "BE", "IN"}
    us = next(d for d in found if d.country == "US")
    assert us.announced_on is not None and us.announced_on.month == 12


def test_the_real_seed_article(tmp_path):
    """The flagship page itself (read from the shared folder, never copied into the repo)."""
    import pathlib

    import pytest

    seed = pathlib.Path("/work/shared/seed/uk-ministers-tiktok-ban.txt")
    if not seed.exists():
        pytest.skip("shared seed article not available")
    title, _, text = seed.read_text(encoding="utf-8").partition("\n")
    found = detect_text(title, text, PUBLISHED)
    news = sorted(
        (d.country, d.subdivision or "", d.app, d.scope, d.action)
        for d in found
        if not d.background
    )
    assert news == [
        ("GB", "", "TikTok", "government_devices", "ban"),
        ("GB", "GB-WLS", "TikTok", "government_devices", "ban"),
    ]
