"""The deployment files (deploy/): the container's steps run, compose and systemd hold together.

No image can be built here (no container engine, and base images are out of reach), so the
Dockerfile is exercised as far as this machine allows, and honestly short of a real build:

- Its build stage's COPY steps are copied into a scratch folder standing for the image, and its
  RUN steps run there, word for word, with `sh -c` as Docker runs them: a clean virtual
  environment (`python -m venv`, no system site-packages) and a plain, not editable,
  `pip install .`. Offline: pip gets `PIP_NO_INDEX` and no build isolation, and the
  dependencies come from this test run's own installed distributions through PYTHONPATH (each
  linked into a folder of its own, leaving out this checkout's editable bumpbuddies and pip),
  where the image would download them. So what is proved is that the package builds from
  exactly the files the Dockerfile copies, that its data (migrations, locales, geodata) is in
  the installed package, and that the entry point works; not the base image nor the download.
- The runtime stage's start steps then run from that install in a folder standing for /app:
  the migration step (compose's `migrate` command), a content check against the content the
  image copies, the HEALTHCHECK command against a local /healthz, and the CMD (with --help).
  The `useradd` step needs root and is only checked to come before `USER`.
"""

from __future__ import annotations

import asyncio
import configparser
import http.server
import json
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from bot.cli import app
from bot.db import create_engine, schema_state
from tests.database import app_role, postgres_url
from tests.scratch_database import as_bot_role, scratch_database

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
TIMEOUT = 600


@dataclass
class Stage:
    """One FROM … stage of a Dockerfile: its instructions in order, continuations joined."""

    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for word, args in self.instructions if word == keyword]


def dockerfile_stages(path: Path) -> list[Stage]:
    stages: list[Stage] = []
    logical = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        logical += " " + line.removesuffix("\\").strip() if logical else line.removesuffix("\\")
        if line.endswith("\\"):
            continue
        word, _, args = logical.strip().partition(" ")
        logical = ""
        if word.upper() == "FROM":
            stages.append(Stage(args.strip()))
        else:
            stages[-1].instructions.append((word.upper(), args.strip()))
    return stages


def env_pairs(args: str) -> dict[str, str]:
    """`ENV A=1 B=2` (the key=value form)."""
    return dict(pair.split("=", 1) for pair in shlex.split(args))


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return dockerfile_stages(DEPLOY / "Dockerfile")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _offline_dependencies(folder: Path) -> Path:
    """This run's installed distributions, minus the editable bumpbuddies and pip, in one folder."""
    folder.mkdir()
    for packages in site.getsitepackages():
        for entry in Path(packages).iterdir():
            name = entry.name.lower()
            if (
                name.startswith(("bumpbuddies", "__editable__", "pip", "_distutils_hack"))
                or name.endswith(".pth")
                or name == "__pycache__"
            ):
                continue
            (folder / entry.name).symlink_to(entry)
    return folder


class Image:
    """A scratch folder standing for the image's file system, with the container's environment."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env: dict[str, str] = {}
        self.workdir = root

    def path(self, absolute: str) -> Path:
        return self.root / absolute.lstrip("/")

    def rebase(self, value: str) -> str:
        """An ENV value with the image's absolute paths moved under the scratch folder."""
        return ":".join(
            str(self.path(part)) if part.startswith("/") else part for part in value.split(":")
        )

    def apply(self, stage: Stage, run: bool) -> Iterator[str]:
        """Apply ENV, WORKDIR and COPY (from the repository); run RUN steps, or yield them."""
        for word, args in stage.instructions:
            if word == "ENV":
                for key, value in env_pairs(args).items():
                    # Rebased first, so only the Dockerfile's own paths move.
                    inherited = self.env.get("PATH", os.environ["PATH"])
                    self.env[key] = self.rebase(value).replace("$PATH", inherited)
            elif word == "WORKDIR":
                self.workdir = self.path(args)
                self.workdir.mkdir(parents=True, exist_ok=True)
            elif word == "COPY" and not args.startswith("--from"):
                *sources, target = shlex.split(args)
                for source in sources:
                    into = self.workdir / target
                    if (ROOT / source).is_dir():
                        shutil.copytree(ROOT / source, into, ignore=_ignored)
                    else:
                        into.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(ROOT / source, into)
            elif word == "RUN":
                if run:
                    self.run(args)
                else:
                    yield args

    def run(self, command: str, **extra: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["sh", "-c", command],
            cwd=self.workdir,
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
        return result


_ignored = shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3")


@pytest.fixture(scope="module")
def image(stages: list[Stage], tmp_path_factory: pytest.TempPathFactory) -> Image:
    """The build stage's steps, run; then the runtime stage's ENV, WORKDIR and COPY."""
    scratch = tmp_path_factory.mktemp("image")
    # `python` as the image has it: a plain interpreter, not this run's virtual environment.
    interpreter = scratch / "interpreter"
    interpreter.mkdir()
    base: str = getattr(sys, "_base_executable", sys.executable)
    (interpreter / "python").symlink_to(base)
    offline = {
        "PATH": f"{interpreter}:/usr/bin:/bin",
        "HOME": str(scratch),
        "PIP_NO_INDEX": "1",
        # pip reads this setting inverted: "0" turns build isolation off (nothing to download).
        "PIP_NO_BUILD_ISOLATION": "0",
        "PYTHONPATH": str(_offline_dependencies(scratch / "dependencies")),
    }
    build, runtime = stages
    built = Image(scratch / "build")
    built.env.update(offline)
    list(built.apply(build, run=True))

    final = Image(scratch / "runtime")
    final.env.update(offline)
    not_run = list(final.apply(runtime, run=False))
    assert [step.split()[0] for step in not_run] == ["useradd"]
    # COPY --from=build: the virtual environment, at the same path.
    venv = build.all("ENV")[0].split("VIRTUAL_ENV=")[1].split()[0]
    shutil.copytree(built.path(venv), final.path(venv), symlinks=True)
    return final


def test_the_image_runs_as_a_system_user_made_before_it_switches(stages: list[Stage]) -> None:
    build, runtime = stages
    assert build.base.startswith("python:3.") and build.base.endswith("-slim AS build")
    assert runtime.base == build.base.removesuffix(" AS build")
    words = [word for word, _ in runtime.instructions]
    users = runtime.all("USER")
    assert users == ["bumpbuddies"]
    assert "useradd" in runtime.all("RUN")[0] and "--system" in runtime.all("RUN")[0]
    # Urdu posters need Pillow's right-to-left shaping and a Nastaliq face (tests skip without).
    assert "libraqm0" in runtime.all("RUN")[0] and "fonts-noto-core" in runtime.all("RUN")[0]
    assert words.index("RUN") < words.index("USER") < words.index("CMD")


def test_the_build_installs_the_package_itself_not_an_editable_checkout(image: Image) -> None:
    shown = image.run(
        "python -c 'import bot, migrations; print(bot.__file__, migrations.__file__)'"
    )

    venv = Path(image.env["VIRTUAL_ENV"])
    for module in shown.stdout.split():
        assert Path(module).is_relative_to(venv / "lib"), module
    assert image.run("bumpbuddies --version").stdout.startswith("bumpbuddies ")


async def test_the_migration_step_migrates_as_the_owner_and_grants_the_bot(
    image: Image, compose: dict[str, Any], database_url: str, tmp_path: Path
) -> None:
    command = compose["services"]["migrate"]["command"]
    async with scratch_database(tmp_path) as owner_url:
        settings = {"DATABASE_URL": as_bot_role(owner_url), "MIGRATION_DATABASE_URL": owner_url}
        done = await asyncio.to_thread(image.run, shlex.join(command), **settings)
        engine = create_engine(as_bot_role(owner_url))
        state = await schema_state(engine)
        await engine.dispose()

    assert state.up_to_date
    owner = postgres_url()
    if owner:
        assert f"Role {app_role(owner)} may read and write" in done.stdout


def test_the_content_the_image_copies_is_where_the_image_looks_for_it(image: Image) -> None:
    checked = image.run("bumpbuddies content check")

    assert image.env["CONTENT_DIR"].endswith("/app/content")
    assert checked.stdout.splitlines()[-1].startswith("Content is fine: ")


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def _healthcheck(image: Image, stages: list[Stage], port: int) -> int:
    words = stages[1].all("HEALTHCHECK")[0].split(" CMD ", 1)[1]
    command = json.loads(words)
    result = subprocess.run(
        command,
        cwd=image.workdir,
        env={**image.env, "WEBHOOK_PORT": str(port)},
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_healthcheck_asks_healthz_and_fails_unless_it_answers_ok(
    image: Image, stages: list[Stage], status: int, healthy: bool
) -> None:
    handler = type("Health", (_Health,), {"status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code = _healthcheck(image, stages, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()

    assert (code == 0) is healthy


def test_the_healthcheck_fails_when_nothing_listens(image: Image, stages: list[Stage]) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    port = server.server_address[1]
    server.server_close()

    assert _healthcheck(image, stages, port) != 0


def test_the_container_starts_serve_with_the_workers_asked_for(
    image: Image, stages: list[Stage]
) -> None:
    command = json.loads(stages[1].all("CMD")[0])
    assert command[:2] == ["sh", "-c"]
    assert re.fullmatch(r'exec bumpbuddies serve --workers "\$\{WORKERS:-2\}"', command[2])
    if "serve" not in typer.main.get_command(app).commands:  # type: ignore[attr-defined]
        pytest.skip("`bumpbuddies serve` (issue 12 §3) is not on this branch yet")

    shown = image.run(f"{command[2]} --help", WORKERS="3")

    assert "--workers" in shown.stdout


def _env_file(name: str) -> dict[str, str]:
    """deploy/<name>.example, as the deployment's copy of it would be."""
    lines = (DEPLOY / f"{name}.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def _service_env(service: dict[str, Any]) -> dict[str, str]:
    files = service.get("env_file", [])
    values: dict[str, str] = {}
    for name in [files] if isinstance(files, str) else files:
        values.update(_env_file(name))
    values.update(service.get("environment", {}))
    return values


def test_compose_migrates_once_then_starts_the_workers_when_the_database_is_healthy(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {"db", "migrate", "bot"}
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["bot"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert services["migrate"]["command"] == ["bumpbuddies", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    # The workers run the image's CMD: `bumpbuddies serve`.
    assert "command" not in services["bot"]
    for name in ("db", "bot"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name
    assert "/healthz" in " ".join(services["bot"]["healthcheck"]["test"])
    assert services["migrate"]["healthcheck"] == {"disable": True}
    for name in ("migrate", "bot"):
        build = services[name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (
            DEPLOY / "Dockerfile"
        )


def test_compose_never_gives_the_workers_the_owners_credentials(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    owner = _service_env(services["migrate"])
    bot = _service_env(services["bot"])
    database = _service_env(services["db"])

    owner_user = owner["MIGRATION_DATABASE_URL"].split("//")[1].split(":")[0]
    assert owner_user == "bumpbuddies_owner"
    assert "MIGRATION_DATABASE_URL" not in bot
    assert not any(owner_user in value for value in bot.values())
    assert not any(database["OWNER_PASSWORD"] in value for value in bot.values())
    assert bot["DATABASE_URL"].split("//")[1].startswith("bumpbuddies_bot:")
    assert owner["DATABASE_APP_ROLE"] == "bumpbuddies_bot"
    # The superuser's password and the role passwords reach the database service alone.
    assert not any(
        "db.env" in str(service.get("env_file"))
        for name, service in services.items()
        if name != "db"
    )


def _unit(name: str) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "systemd" / name, encoding="utf-8")
    return unit


def test_systemd_migrates_before_any_worker_starts_and_workers_get_only_the_bots_settings() -> None:
    migrate = _unit("bumpbuddies-migrate.service")
    worker = _unit("bumpbuddies@.service")

    assert migrate["Service"]["Type"] == "oneshot"
    assert migrate["Service"]["ExecStart"].endswith("bumpbuddies db upgrade")
    assert migrate["Service"]["EnvironmentFile"] == "/etc/bumpbuddies/migrate.env"
    assert worker["Unit"]["Requires"] == "bumpbuddies-migrate.service"
    assert "bumpbuddies-migrate.service" in worker["Unit"]["After"].split()
    assert worker["Service"]["ExecStart"].endswith("bumpbuddies serve --workers ${WORKERS}")
    assert worker["Service"]["EnvironmentFile"] == "/etc/bumpbuddies/bot.env"
    assert worker["Service"]["User"] == "bumpbuddies"
    assert "WEBHOOK_PORT=%i" in worker["Service"]["Environment"].split()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    # The units name the installed command; here it is this run's own.
    command = shutil.which("bumpbuddies") or str(Path(sys.executable).with_name("bumpbuddies"))
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text(encoding="utf-8")
        (tmp_path / unit.name).write_text(
            text.replace("/opt/bumpbuddies/bin/bumpbuddies", command), encoding="utf-8"
        )

    verified = subprocess.run(
        ["systemd-analyze", "verify", "--man=no",
         str(tmp_path / "bumpbuddies-migrate.service"), str(tmp_path / "bumpbuddies@8081.service")],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )  # fmt: skip

    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == ""
