"""The wheel users install: only `banwatch*` at the top of site-packages, with every data file
the product reads at run time (the sample corpus and its page templates, the email and report
templates, the detector's and the story-pair model's data), and no test kit.

The wheel is built from a copy of the sources with pip (`--no-deps --no-build-isolation`: the
venv's setuptools, no network), as `pip install .` and the Dockerfile build it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PACKAGE_DIR: dict[str, str] = PYPROJECT["tool"]["setuptools"]["package-dir"]


def _ignore(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in ("__pycache__", ".pytest_cache") or n.endswith(".pyc")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in set(PACKAGE_DIR.values()):
        shutil.copytree(ROOT / folder, src / folder, ignore=_ignore)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--quiet", "--wheel-dir", str(out), str(src)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=src)
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("banwatch-*.whl")
    with zipfile.ZipFile(built) as opened:
        yield opened


def installed_path(source: Path) -> str:
    """Where a file of the repository lands in site-packages (package-dir mapping)."""
    relative = source.relative_to(ROOT).as_posix()
    for package, folder in sorted(PACKAGE_DIR.items(), key=lambda kv: -len(kv[1])):
        if relative.startswith(folder + "/"):
            return package.replace(".", "/") + relative[len(folder) :]
    raise AssertionError(f"{relative} is in no package folder")


def test_the_wheel_adds_only_banwatch_packages(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    tops = {n.split("/")[0] for n in names if ".dist-info/" not in n}
    assert tops == {"banwatch"}
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")]
    assert wheel.read(top_level).decode().split() == ["banwatch"]


def test_the_wheel_carries_every_data_file_the_product_reads(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    data = [
        path
        for folder in set(PACKAGE_DIR.values())
        for path in (ROOT / folder).rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    ]
    missing = sorted(installed_path(p) for p in data if installed_path(p) not in names)
    assert missing == []
    for needed in (
        "banwatch/sample/outlets.toml",
        "banwatch/sample/articles.toml",
        "banwatch/sample/templates/harbour-herald.html",
        "banwatch/alerts/templates/alert.html",
        "banwatch/enrich/detect/data/detector.json",
        "banwatch/enrich/data/story_pairs.json",
    ):
        assert needed in names


def test_the_wheel_holds_no_test_kit(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert not [n for n in names if n.startswith("tests/") or n.endswith("expected.toml")]
    assert not {"banwatch/newsroom.py", "banwatch/mailsink.py"} & set(names)
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    requires = [
        line
        for line in wheel.read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert not [r for r in requires if "aiosmtpd" in r]  # dev-only: the demo writes .eml files


def test_the_demo_runs_from_the_wheel_without_aiosmtpd_or_tests(
    wheel: zipfile.ZipFile, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    wheel.extractall(site)
    script = (
        "import sys\n"
        "sys.modules['aiosmtpd'] = None  # not installed: importing it fails\n"
        "sys.modules['tests'] = None  # no test kit in an install\n"
        "# the venv's editable install of the repository must not fill in what the wheel lacks\n"
        "sys.meta_path = [f for f in sys.meta_path if 'editable' not in repr(f)]\n"
        "from banwatch.cli import main\n"
        "sys.argv = ['banwatch', 'demo', '--quiet', '--dir', sys.argv[1]]\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    for name, module in sorted(sys.modules.items()):\n"
        "        if name.startswith('banwatch') and module is not None:\n"
        "            print('loaded', getattr(module, '__file__', None))\n"
    )
    demo = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-c", script, str(demo)],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # not the repository: nothing is imported from the source tree
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    loaded = [line.removeprefix("loaded ") for line in lines if line.startswith("loaded ")]
    assert [f for f in loaded if not f.startswith(f"{site}/")] == []
    assert f"{site / 'banwatch' / 'sample' / '__init__.py'}" in loaded
    summary = next(line for line in lines if line.startswith("feeds polled 5 (failed 0)"))
    sent = int(summary.rsplit("emails sent ", 1)[1])
    assert sent > 0
    assert f"alert emails: {sent} saved in {demo / 'mail'}" in lines
    assert len(list((demo / "mail").glob("*.eml"))) == sent
