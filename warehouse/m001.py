"""Migration 1 as it was applied: literal DDL, frozen.

Later migrations change these tables; the tables as they are now are described by
`banwatch.warehouse.schema`. This text never changes: a warehouse created by an older release
and one created today must reach the same schema through the same statements.
"""

M001_STATEMENTS: tuple[str, ...] = (
    """
CREATE TABLE feeds (
    name VARCHAR PRIMARY KEY,
    url VARCHAR,
    etag VARCHAR,
    last_modified VARCHAR,
    last_polled_at TIMESTAMPTZ,
    last_outcome VARCHAR,
    last_reason VARCHAR,
    last_error VARCHAR,
    last_status INTEGER,
    failure_count INTEGER,
    entries_seen BIGINT
)
""",
    (
        "COMMENT ON TABLE feeds IS 'One row per configured feed: conditional-GET state and "
        "the outcome of the last poll.'"
    ),
    "COMMENT ON COLUMN feeds.name IS 'Feed name from the config file.'",
    "COMMENT ON COLUMN feeds.url IS 'Feed URL as configured.'",
    ("COMMENT ON COLUMN feeds.etag IS 'ETag of the last 200 answer, sent back as If-None-Match.'"),
    (
        "COMMENT ON COLUMN feeds.last_modified IS 'Last-Modified of the last 200 answer "
        "(If-Modified-Since).'"
    ),
    "COMMENT ON COLUMN feeds.last_polled_at IS 'When the feed was last polled.'",
    ("COMMENT ON COLUMN feeds.last_outcome IS 'ok | not_modified | soft | hard | temporary.'"),
    (
        "COMMENT ON COLUMN feeds.last_reason IS 'Fixed reason of the last outcome (http_500, "
        "timeout, bozo...).'"
    ),
    (
        "COMMENT ON COLUMN feeds.last_error IS 'Human-readable detail of the last failure, "
        "else NULL.'"
    ),
    "COMMENT ON COLUMN feeds.last_status IS 'HTTP status code of the last poll, if any.'",
    (
        "COMMENT ON COLUMN feeds.failure_count IS 'Consecutive failed polls (hard or "
        "temporary); 0 after a success.'"
    ),
    (
        "COMMENT ON COLUMN feeds.entries_seen IS 'Feed items seen over all polls (items "
        "repeat between polls).'"
    ),
    """
CREATE TABLE articles (
    article_id VARCHAR PRIMARY KEY,
    url VARCHAR UNIQUE,
    feed_name VARCHAR,
    title VARCHAR,
    text VARCHAR,
    published_at TIMESTAMPTZ,
    language VARCHAR,
    site_name VARCHAR,
    extraction VARCHAR,
    outcome VARCHAR,
    reason VARCHAR,
    error VARCHAR,
    raw_html_gz BLOB,
    fetched_at TIMESTAMPTZ,
    story_id VARCHAR,
    run_id VARCHAR
)
""",
    (
        "COMMENT ON TABLE articles IS 'One row per article page (canonical URL), fetched and "
        "extracted once.'"
    ),
    ("COMMENT ON COLUMN articles.article_id IS 'sha1 of the canonical URL, first 16 hex chars.'"),
    "COMMENT ON COLUMN articles.url IS 'Canonical URL of the article.'",
    "COMMENT ON COLUMN articles.feed_name IS 'Feed that listed the article first.'",
    "COMMENT ON COLUMN articles.title IS 'Headline (untrusted text from the page).'",
    (
        "COMMENT ON COLUMN articles.text IS 'Main text (trafilatura), or the feed summary "
        "when extraction failed.'"
    ),
    ("COMMENT ON COLUMN articles.published_at IS 'Publication time from the page or the feed.'"),
    "COMMENT ON COLUMN articles.language IS 'Language code of the text, if known.'",
    "COMMENT ON COLUMN articles.site_name IS 'Outlet name from the page metadata.'",
    "COMMENT ON COLUMN articles.extraction IS 'trafilatura | feed_summary.'",
    "COMMENT ON COLUMN articles.outcome IS 'ok | soft | hard | temporary.'",
    (
        "COMMENT ON COLUMN articles.reason IS 'Fixed reason of the outcome (http_404, "
        "too_large, charset...).'"
    ),
    "COMMENT ON COLUMN articles.error IS 'Human-readable detail of a failure, else NULL.'",
    ("COMMENT ON COLUMN articles.raw_html_gz IS 'gzip of the page as fetched, for re-processing.'"),
    "COMMENT ON COLUMN articles.fetched_at IS 'When the page was fetched.'",
    (
        "COMMENT ON COLUMN articles.story_id IS 'Story (cluster of near-duplicate coverage) "
        "of the article.'"
    ),
    "COMMENT ON COLUMN articles.run_id IS 'Run that last loaded the article.'",
    """
CREATE TABLE article_embeddings (
    article_id VARCHAR,
    model VARCHAR,
    embedding FLOAT[],
    PRIMARY KEY (article_id, model)
)
""",
    (
        "COMMENT ON TABLE article_embeddings IS 'Sentence embedding of each article''s title "
        "+ lead, per model (unit-normalised).'"
    ),
    ("COMMENT ON COLUMN article_embeddings.article_id IS 'The article (articles.article_id).'"),
    ("COMMENT ON COLUMN article_embeddings.model IS 'sentence-transformers model name or path.'"),
    ("COMMENT ON COLUMN article_embeddings.embedding IS 'Unit-normalised embedding vector.'"),
    """
CREATE TABLE stories (
    story_id VARCHAR PRIMARY KEY,
    first_article_id VARCHAR,
    first_seen_at TIMESTAMPTZ,
    article_count INTEGER
)
""",
    (
        "COMMENT ON TABLE stories IS 'Clusters of near-duplicate coverage: forty outlets'' "
        "copies of one story are one row.'"
    ),
    ("COMMENT ON COLUMN stories.story_id IS 'Stable id, derived from the story''s first article.'"),
    "COMMENT ON COLUMN stories.first_article_id IS 'The article that started the story.'",
    "COMMENT ON COLUMN stories.first_seen_at IS 'When banwatch first saw the story.'",
    "COMMENT ON COLUMN stories.article_count IS 'Articles in the story.'",
    """
CREATE TABLE events (
    event_id VARCHAR PRIMARY KEY,
    jurisdiction VARCHAR,
    country VARCHAR,
    subdivision VARCHAR,
    level VARCHAR,
    app VARCHAR,
    scope VARCHAR,
    action VARCHAR,
    body VARCHAR,
    announced_on DATE,
    first_seen_at TIMESTAMPTZ,
    confidence DOUBLE,
    evidence VARCHAR,
    url VARCHAR,
    historical BOOLEAN
)
""",
    (
        "COMMENT ON TABLE events IS 'One row per state (ban, proposed, lifted) of one "
        "situation (country, subdivision, app, scope, body). Analysts should query the "
        "ban_events view.'"
    ),
    ("COMMENT ON COLUMN events.event_id IS 'Stable id: sha1 of situation, action, first date.'"),
    ("COMMENT ON COLUMN events.jurisdiction IS 'Who acted, in words (majority over the sources).'"),
    ("COMMENT ON COLUMN events.country IS 'ISO 3166-1 alpha-2 (''EU'' for EU institutions).'"),
    (
        "COMMENT ON COLUMN events.subdivision IS 'ISO 3166-2 code of a sub-national actor, "
        "else NULL.'"
    ),
    "COMMENT ON COLUMN events.level IS 'national | subnational | supranational.'",
    "COMMENT ON COLUMN events.app IS 'Canonical app or vendor name.'",
    "COMMENT ON COLUMN events.scope IS 'government_devices | nationwide | other.'",
    "COMMENT ON COLUMN events.action IS 'ban | proposed | lifted.'",
    (
        "COMMENT ON COLUMN events.body IS 'Acting body when it acts on its own (''European "
        "Parliament''), else ''''.'"
    ),
    (
        "COMMENT ON COLUMN events.announced_on IS 'Best estimate of the announcement date "
        "(median of sources).'"
    ),
    "COMMENT ON COLUMN events.first_seen_at IS 'When banwatch first saw the event.'",
    "COMMENT ON COLUMN events.confidence IS '0..1, combined over the distinct outlets.'",
    "COMMENT ON COLUMN events.evidence IS 'The most confident supporting sentence.'",
    "COMMENT ON COLUMN events.url IS 'The article the evidence comes from.'",
    (
        "COMMENT ON COLUMN events.historical IS 'Announced before the recency window when "
        "first seen: not emailed.'"
    ),
    """
CREATE TABLE event_sources (
    event_id VARCHAR,
    article_id VARCHAR,
    url VARCHAR,
    outlet VARCHAR,
    evidence VARCHAR,
    confidence DOUBLE,
    announced_on DATE,
    jurisdiction VARCHAR,
    level VARCHAR,
    PRIMARY KEY (event_id, article_id)
)
""",
    (
        "COMMENT ON TABLE event_sources IS 'The articles behind each event (one row per "
        "event and article).'"
    ),
    "COMMENT ON COLUMN event_sources.event_id IS 'The event (events.event_id).'",
    "COMMENT ON COLUMN event_sources.article_id IS 'The article (articles.article_id).'",
    "COMMENT ON COLUMN event_sources.url IS 'URL of the article.'",
    (
        "COMMENT ON COLUMN event_sources.outlet IS 'Outlet (site name, else feed name); "
        "source_count counts these.'"
    ),
    (
        "COMMENT ON COLUMN event_sources.evidence IS 'The sentence of this article that "
        "states the event.'"
    ),
    ("COMMENT ON COLUMN event_sources.confidence IS 'Detector confidence for this article, 0..1.'"),
    (
        "COMMENT ON COLUMN event_sources.announced_on IS 'Announcement date according to "
        "this article.'"
    ),
    ("COMMENT ON COLUMN event_sources.jurisdiction IS 'Jurisdiction according to this article.'"),
    "COMMENT ON COLUMN event_sources.level IS 'Level according to this article.'",
    """
CREATE TABLE mentions (
    mention_id VARCHAR PRIMARY KEY,
    article_id VARCHAR,
    jurisdiction VARCHAR,
    country VARCHAR,
    subdivision VARCHAR,
    level VARCHAR,
    app VARCHAR,
    scope VARCHAR,
    body VARCHAR,
    action VARCHAR,
    announced_on DATE,
    evidence VARCHAR,
    confidence DOUBLE
)
""",
    (
        "COMMENT ON TABLE mentions IS 'Background mentions: older events an article only "
        "recalls. Never alerted.'"
    ),
    ("COMMENT ON COLUMN mentions.mention_id IS 'sha1 of the article and the mentioned state.'"),
    "COMMENT ON COLUMN mentions.article_id IS 'The article that recalls the event.'",
    "COMMENT ON COLUMN mentions.jurisdiction IS 'Who acted, in words.'",
    "COMMENT ON COLUMN mentions.country IS 'ISO 3166-1 alpha-2.'",
    "COMMENT ON COLUMN mentions.subdivision IS 'ISO 3166-2 code, else NULL.'",
    "COMMENT ON COLUMN mentions.level IS 'national | subnational | supranational.'",
    "COMMENT ON COLUMN mentions.app IS 'Canonical app or vendor name.'",
    "COMMENT ON COLUMN mentions.scope IS 'government_devices | nationwide | other.'",
    "COMMENT ON COLUMN mentions.body IS 'Acting body, else ''''.'",
    "COMMENT ON COLUMN mentions.action IS 'ban | proposed | lifted.'",
    (
        "COMMENT ON COLUMN mentions.announced_on IS 'Date of the recalled event, if the "
        "article gives one.'"
    ),
    "COMMENT ON COLUMN mentions.evidence IS 'The sentence that recalls it.'",
    "COMMENT ON COLUMN mentions.confidence IS 'Detector confidence, 0..1.'",
    """
CREATE TABLE detections (
    detection_id VARCHAR PRIMARY KEY,
    article_id VARCHAR,
    jurisdiction VARCHAR,
    country VARCHAR,
    subdivision VARCHAR,
    level VARCHAR,
    app VARCHAR,
    scope VARCHAR,
    body VARCHAR,
    action VARCHAR,
    announced_on DATE,
    evidence VARCHAR,
    confidence DOUBLE,
    background BOOLEAN
)
""",
    (
        "COMMENT ON TABLE detections IS 'Every raw detection of every article, background or "
        "not, for auditing the detector.'"
    ),
    ("COMMENT ON COLUMN detections.detection_id IS 'sha1 of the article and all detected fields.'"),
    "COMMENT ON COLUMN detections.article_id IS 'The article.'",
    "COMMENT ON COLUMN detections.jurisdiction IS 'Who acted, in words.'",
    "COMMENT ON COLUMN detections.country IS 'ISO 3166-1 alpha-2.'",
    "COMMENT ON COLUMN detections.subdivision IS 'ISO 3166-2 code, else NULL.'",
    "COMMENT ON COLUMN detections.level IS 'national | subnational | supranational.'",
    "COMMENT ON COLUMN detections.app IS 'Canonical app or vendor name.'",
    "COMMENT ON COLUMN detections.scope IS 'government_devices | nationwide | other.'",
    "COMMENT ON COLUMN detections.body IS 'Acting body, else ''''.'",
    "COMMENT ON COLUMN detections.action IS 'ban | proposed | lifted.'",
    "COMMENT ON COLUMN detections.announced_on IS 'Announcement date as detected.'",
    "COMMENT ON COLUMN detections.evidence IS 'The sentence.'",
    "COMMENT ON COLUMN detections.confidence IS 'Detector confidence, 0..1.'",
    (
        "COMMENT ON COLUMN detections.background IS 'True for an older event the article "
        "only recalls.'"
    ),
    """
CREATE TABLE alerts (
    event_id VARCHAR PRIMARY KEY,
    status VARCHAR,
    attempts INTEGER,
    last_error VARCHAR,
    message_id VARCHAR,
    queued_at TIMESTAMPTZ,
    sent_at TIMESTAMPTZ
)
""",
    (
        "COMMENT ON TABLE alerts IS 'The alert outbox: one row per new (non-historical) "
        "event, claimed before sending.'"
    ),
    "COMMENT ON COLUMN alerts.event_id IS 'The event (events.event_id).'",
    "COMMENT ON COLUMN alerts.status IS 'pending | sending | sent | failed | skipped.'",
    "COMMENT ON COLUMN alerts.attempts IS 'Send attempts so far.'",
    ("COMMENT ON COLUMN alerts.last_error IS 'Error of the last failed attempt, else NULL.'"),
    ("COMMENT ON COLUMN alerts.message_id IS 'Message-ID of the email (<event_id@banwatch>).'"),
    ("COMMENT ON COLUMN alerts.queued_at IS 'When the event was queued (its first_seen_at).'"),
    "COMMENT ON COLUMN alerts.sent_at IS 'When the SMTP server accepted the email.'",
    """
CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    feeds_polled INTEGER,
    feeds_failed INTEGER,
    new_articles INTEGER,
    articles_failed INTEGER,
    new_stories INTEGER,
    new_events INTEGER,
    emails_sent INTEGER,
    status VARCHAR
)
""",
    "COMMENT ON TABLE runs IS 'One row per pass: its counts and status.'",
    "COMMENT ON COLUMN runs.run_id IS 'Airflow run id or cli-<timestamp>.'",
    "COMMENT ON COLUMN runs.started_at IS 'When the pass started.'",
    ("COMMENT ON COLUMN runs.finished_at IS 'When it finished; NULL while running or if killed.'"),
    "COMMENT ON COLUMN runs.feeds_polled IS 'Feeds polled.'",
    "COMMENT ON COLUMN runs.feeds_failed IS 'Feeds that failed (hard or temporary).'",
    "COMMENT ON COLUMN runs.new_articles IS 'Articles loaded for the first time.'",
    (
        "COMMENT ON COLUMN runs.articles_failed IS 'Articles that could not be fetched or "
        "extracted.'"
    ),
    "COMMENT ON COLUMN runs.new_stories IS 'Stories started.'",
    "COMMENT ON COLUMN runs.new_events IS 'Events created (historical ones included).'",
    "COMMENT ON COLUMN runs.emails_sent IS 'Alert emails sent.'",
    "COMMENT ON COLUMN runs.status IS 'running | finished.'",
    """
CREATE OR REPLACE VIEW ban_events AS
SELECT
    e.event_id, e.jurisdiction, e.country, e.subdivision, e.level, e.app, e.scope, e.action,
    e.announced_on, e.first_seen_at,
    count(DISTINCT s.outlet) AS source_count,
    e.confidence, e.evidence, e.url, e.historical, e.body
FROM events AS e
LEFT JOIN event_sources AS s USING (event_id)
GROUP BY ALL
""",
    (
        "COMMENT ON VIEW ban_events IS 'Ban events for analysts: one row per state of a "
        "situation, with source_count.'"
    ),
)
