"""docker-compose.yml, Dockerfile and the standalone script, checked structurally.

There is no Docker engine here, so these tests read the files the way compose and docker would:
YAML with anchors and merge keys, `${VAR:-default}` interpolation, profiles, bind-mount sources.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path, PurePosixPath

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / "config" / "airflow.env.example"
STANDALONE = ROOT / "scripts" / "airflow_standalone.sh"
AIRFLOW_VERSION = "3.3.2"
POOL = "banwatch_duckdb"
CORE_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
}
CELERY_SERVICES = {"airflow-worker": "celery worker", "flower": "celery flower"}
_VAR = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ${V}, ${V:-default}, ${V-default}, ${V:?error}, $$."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        value = env.get(name)
        if op and op.endswith("?") and not value:
            raise KeyError(f"{name} is required: {arg}")
        if op == ":-":
            return value or arg
        if op == "-":
            return arg if value is None else value
        return value or ""

    return _VAR.sub(sub, value)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def active_services(compose: dict, profiles: set[str]) -> dict[str, dict]:
    return {
        name: svc
        for name, svc in compose["services"].items()
        if not svc.get("profiles") or set(svc["profiles"]) & profiles
    }


def command_of(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_services_of_the_official_layout_are_there(compose: dict) -> None:
    services = compose["services"]
    assert set(CORE_SERVICES) | {"airflow-init", "postgres", "mailpit"} <= set(services)
    assert set(CELERY_SERVICES) | {"redis"} <= set(services)
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), f"{name} has neither image nor build"


def test_commands_name_real_airflow_entry_points(compose: dict, tmp_path: Path) -> None:
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path)}  # never the user's own Airflow home
    usage = subprocess.run(
        [sys.executable, "-m", "airflow", "--help"], env=env, capture_output=True, text=True
    ).stdout
    core_commands = set(re.findall(r"^      ([a-z][a-z-]+)\s", usage, re.M))
    services = compose["services"]
    for name, command in {**CORE_SERVICES, **CELERY_SERVICES}.items():
        assert command_of(services[name]) == command
        if not command.startswith("celery"):  # the celery provider ships in the image, not here
            assert command in core_commands
    assert "celery" in services["airflow-worker"]["profiles"]
    assert set(services["redis"]["profiles"]) == {"celery"}
    init = command_of(services["airflow-init"])
    assert f"airflow pools set {POOL} 1" in init


def test_airflow_services_run_the_banwatch_image(compose: dict) -> None:
    for name in [*CORE_SERVICES, *CELERY_SERVICES, "airflow-init"]:
        svc = compose["services"][name]
        assert svc["build"] == "."
        assert "banwatch" in svc["image"]
        assert svc["environment"]["BANWATCH_CONFIG"].startswith("/opt/banwatch/config/")


def test_volume_sources_are_real_repo_paths(compose: dict) -> None:
    named = set(compose.get("volumes") or {})
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: {source} is not in the repository"
            else:
                assert source in named, f"{name}: volume {source} is not declared"
    mounts = {v.split(":")[1] for v in compose["services"]["airflow-scheduler"]["volumes"]}
    assert {"/opt/airflow/dags", "/opt/banwatch/data"} <= mounts


def test_the_shipped_config_writes_into_the_data_volume(compose: dict) -> None:
    """The config's relative paths resolve against the file, so where the file is mounted
    decides where the warehouse lands: it must be the persistent volume, not the container."""
    from banwatch.config import settings_from_dict

    svc = compose["services"]["airflow-scheduler"]
    mounted_at = PurePosixPath(svc["environment"]["BANWATCH_CONFIG"])
    raw = tomllib.loads((ROOT / "config/banwatch.toml").read_text(encoding="utf-8"))
    settings = settings_from_dict(raw, path=str(mounted_at))
    data = next(v.split(":")[1] for v in svc["volumes"] if v.startswith("banwatch-data:"))
    for written in (settings.warehouse.path, settings.warehouse.snapshot, settings.staging.dir):
        assert PurePosixPath(os.path.normpath(written)).is_relative_to(data), written


@pytest.mark.parametrize(
    ("env", "profiles", "executor"),
    [
        ({}, set(), "LocalExecutor"),
        ({"AIRFLOW_EXECUTOR": "CeleryExecutor"}, {"celery"}, "CeleryExecutor"),
        ({"AIRFLOW_EXECUTOR": "CeleryExecutor"}, {"celery", "flower"}, "CeleryExecutor"),
    ],
)
def test_executor_agrees_across_services_and_profiles(
    compose: dict, env: dict, profiles: set[str], executor: str
) -> None:
    env = {"AIRFLOW_JWT_SECRET": "secret", **env}
    active = active_services(compose, profiles)
    executors = {
        name: interpolate(svc["environment"]["AIRFLOW__CORE__EXECUTOR"], env)
        for name, svc in active.items()
        if "AIRFLOW__CORE__EXECUTOR" in svc.get("environment", {})
    }
    assert set(CORE_SERVICES) <= set(executors)
    assert set(executors.values()) == {executor}
    assert ("airflow-worker" in active) == (executor == "CeleryExecutor")
    for name, svc in active.items():  # nothing depends on a service its profiles leave out
        assert set(svc.get("depends_on", {})) <= set(active), name


def test_secrets_are_required_not_defaulted(compose: dict) -> None:
    env = compose["x-airflow-common"]["environment"]
    with pytest.raises(KeyError, match="AIRFLOW_JWT_SECRET"):
        interpolate(env["AIRFLOW__API_AUTH__JWT_SECRET"], {})


def test_env_example_lists_every_variable_the_compose_file_reads(compose: dict) -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    used = {m.group(1) or m.group(4) for m in _VAR.finditer(text) if m.group(0) != "$$"}
    listed = set(re.findall(r"^#?\s*(\w+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M))
    assert used - {"HOSTNAME"} <= listed


def test_documented_one_off_runs_get_past_the_image_entrypoint() -> None:
    """The image's entrypoint runs `bash` and `python` as given and hands anything else to
    `airflow`: `docker compose run airflow-cli banwatch ...` would run `airflow banwatch ...`."""
    texts = [COMPOSE, ROOT / "docs" / "airflow.md", ROOT / "README.md"]
    firsts = [
        first
        for path in texts
        for first in re.findall(
            r"docker compose (?:--?\S+ )*run (?:--?\S+ )*airflow-\S+ (\S+)", path.read_text()
        )
    ]
    assert firsts, "no documented `docker compose run` of an Airflow service"
    for first in firsts:
        assert first in {"bash", "python", "airflow"}, first


def test_dockerfile_builds_on_the_pinned_airflow_image() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM apache/airflow:(\S+)", text, re.M).group(1) == AIRFLOW_VERSION
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert (
        f"apache-airflow=={AIRFLOW_VERSION}"
        in pyproject["project"]["optional-dependencies"]["airflow"]
    )
    # torch is installed first, at the Makefile's pinned version, before `pip install .`
    torch_pin = re.search(r"^TORCH_VERSION\s*\?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert f"ARG TORCH_VERSION={torch_pin.group(1)}" in text
    assert text.index('"torch==${TORCH_VERSION}"') < text.index('"/opt/banwatch[airflow]"')
    copied = set(re.findall(r"^COPY (?:--\S+ )*(.+) \S+$", text, re.M))
    sources = {src for line in copied for src in line.split()}
    package_dir = pyproject["tool"]["setuptools"]["package-dir"]
    for package in pyproject["tool"]["setuptools"]["packages"]:
        # "banwatch.enrich.data" ships inside the folder "banwatch.enrich" maps to, "enrich"
        home = next(n for n in sorted(package_dir, key=len, reverse=True) if package.startswith(n))
        assert package_dir[home] in sources, f"{package_dir[home]} is not copied into the image"
    assert all((ROOT / src).exists() for src in sources)


def test_dockerignore_keeps_local_state_out_but_not_the_sources() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".env", "data", "airflow_home", ".git"} <= ignored
    assert not ignored & {"README.md", "pyproject.toml", "dags", "banwatch", "enrich"}


def test_standalone_script_is_valid_bash_and_creates_the_pool() -> None:
    subprocess.run(["bash", "-n", str(STANDALONE)], check=True)
    text = STANDALONE.read_text(encoding="utf-8")
    assert f"airflow pools set {POOL} 1" in text
    assert "airflow standalone" in text
    assert "simple_auth_manager_passwords.json.generated" in text


def test_the_image_can_run_the_demo() -> None:
    """The demo's corpus is package data inside `banwatch/` (copied, installed, checked at build
    time), and the test kit stays out of the build context."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^COPY (?:--\S+ )*banwatch /opt/banwatch/banwatch$", text, re.M)
    assert (ROOT / "banwatch" / "sample" / "articles.toml").is_file()
    check = text.index("from banwatch.sample import load_sample; print(len(load_sample())")
    assert text.index('"/opt/banwatch[airflow]"') < check
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert "tests" in ignored
