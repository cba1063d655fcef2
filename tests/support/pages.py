"""Article pages as tests serve them: realistic boilerplate (nav, cookie banner, related
links, comments, footer) around a title and paragraphs of the test's own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from tests.support.factories import NOW

PAGE_TEMPLATE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>{title} | {outlet}</title>
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{outlet}">
<meta property="article:published_time" content="{published}">
</head>
<body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience.
Accept all cookies or manage your preferences. <button>Accept</button></div>
<header><nav class="main-nav"><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/business">Business</a></li><li><a href="/technology">Technology</a></li>
<li><a href="/sport">Sport</a></li></ul></nav></header>
<main>
<article>
<h1>{title}</h1>
<p class="byline">By a staff reporter, <time datetime="{published}">{published_words}</time></p>
{paragraphs}
</article>
<aside class="related"><h2>Related stories</h2><ul>
<li><a href="/a">Weather warning issued for the weekend</a></li>
<li><a href="/b">Local team reaches the cup semi-final</a></li></ul></aside>
<section id="comments" class="comments"><h2>Comments</h2>
<div class="comment"><p>Reader comment: first! Great article, keep it up.</p></div>
<form><textarea name="comment"></textarea><button>Post comment</button></form></section>
</main>
<footer><p>Subscribe to our newsletter for the day's top stories.</p>
<p>Copyright {outlet}. All rights reserved. Privacy policy. Terms of use.</p></footer>
</body></html>
"""

DEFAULT_PARAGRAPHS = (
    "The city council voted on Monday to turn the old railway depot into a public park, ending "
    "a decade of arguments over what should happen to the site on the edge of the centre.",
    "Councillors approved the plan by a wide margin after a long debate in which residents from "
    "the neighbouring streets spoke both for and against the design.",
    "Work on clearing the site is expected to begin in the summer, and the first section of the "
    "park could open to the public by the end of next year, officials said.",
    "The depot closed more than twenty years ago and has since been used for storage and, more "
    "recently, for a weekend market that will be given a new home nearby.",
)


def article_page(
    title: str,
    paragraphs: Sequence[str] = DEFAULT_PARAGRAPHS,
    *,
    outlet: str = "Loopback Gazette",
    published: dt.datetime = NOW,
    lang: str = "en",
) -> str:
    """A realistic article page: nav, cookie banner, related links, comments and footer."""
    return PAGE_TEMPLATE.format(
        lang=lang,
        title=escape(title),
        outlet=escape(outlet),
        published=published.isoformat(),
        published_words=published.strftime("%d %B %Y"),
        paragraphs="\n".join(f"<p>{escape(p)}</p>" for p in paragraphs),
    )
