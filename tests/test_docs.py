"""Docs stay true: generated references are current, every command is documented and has help."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from banwatch.cli import cli
from banwatch.config import SECTIONS, Settings

ROOT = Path(__file__).resolve().parents[1]


def test_generated_references_are_current() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_docs.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_readme_opens_with_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert "make test" in ci


def test_every_command_is_in_the_readme_and_has_help() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, command in cli.commands.items():
        assert f"`banwatch {name}" in readme, name
        assert command.help and command.help.strip(), name
        result = CliRunner().invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Usage: " in result.output


def test_every_setting_has_a_description_and_a_default() -> None:
    for name in SECTIONS:
        section = Settings.model_fields[name].annotation
        for key, info in section.model_fields.items():
            assert info.description and info.description.strip(), f"{name}.{key}"
            assert not info.is_required(), f"{name}.{key}"


def test_every_environment_variable_is_in_the_env_example() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#? ?(BANWATCH_[A-Z_]+)=", example, flags=re.MULTILINE))
    sources = [
        p
        for folder in ("banwatch", "ingest", "enrich", "warehouse", "alerts", "dags", "scripts")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in (".py", ".sh")
    ]
    used = {
        name
        for p in sources
        for name in re.findall(r"\b(BANWATCH_[A-Z_]*[A-Z])\b", p.read_text(encoding="utf-8"))
    }
    assert used <= listed, sorted(used - listed)
