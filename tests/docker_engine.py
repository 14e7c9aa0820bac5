"""A real Docker engine for the image and compose tests, and the images they build.

Debian's docker.io: its client is /usr/bin/docker (another, newer client earlier on PATH
may not speak to Debian's engine). When no engine answers, `running_engine()` starts
`dockerd --storage-driver=vfs` (the storage driver that works on these machines) and
stops it afterwards. No image registry is reachable: the base image is made from
Debian's packages by scripts/docker_base.sh, and every build uses the host's network so
that apt, pip and uv reach the package registries.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from lessons.services.processes import stop, wait_for

from .support import require

ROOT = Path(__file__).resolve().parent.parent
DOCKER = "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker")
DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
# Every image the Dockerfile makes carries this label: dangling ones are pruned by it.
LABEL = "org.opencontainers.image.title=Pooling Lab"


def run_docker(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """The Docker client, its output and errors in one text (as a terminal shows them)."""
    return subprocess.run(
        [DOCKER or "docker", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def docker(*args: str, timeout: float = 120, **kwargs) -> str:
    """Run the Docker client; return its output, or fail with what it printed."""
    result = run_docker(*args, timeout=timeout, **kwargs)
    if result.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)[:300]} exited {result.returncode}:\n{result.stdout[-4000:]}"
        )
    return result.stdout


def engine_answers() -> bool:
    if not DOCKER:
        return False
    try:
        result = subprocess.run(
            [DOCKER, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0


@contextlib.contextmanager
def running_engine(log_dir: Path) -> Iterator[None]:
    """An engine that answers: the one running, or dockerd started here and stopped after."""
    require(DOCKER is not None, "the Docker client is missing (apt-get install docker.io)")
    if engine_answers():
        yield
        return
    require(Path(DOCKERD).exists(), "dockerd is missing (apt-get install docker.io)")
    require(os.geteuid() == 0, "no Docker engine answers, and starting dockerd needs root")
    log_path = log_dir / "dockerd.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [DOCKERD, "--storage-driver=vfs"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        try:
            wait_for(engine_answers, timeout=60, interval=0.5, proc=proc, what="dockerd")
        except (RuntimeError, TimeoutError) as exc:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise AssertionError(f"{exc}; the end of {log_path}:\n{tail}") from exc
        yield
    finally:
        # SIGTERM: dockerd stops its containers and its containerd before it exits.
        stop(proc, timeout=60)


def make_base() -> float:
    """scripts/docker_base.sh (which does nothing when the base exists); its seconds."""
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "docker_base.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "DOCKER": DOCKER or "docker"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return time.monotonic() - started


def build_image(tag: str) -> float:
    """Build the Dockerfile with BuildKit on the host's network; its seconds."""
    started = time.monotonic()
    docker(
        "build",
        "--network",
        "host",
        "--tag",
        tag,
        str(ROOT),
        timeout=1200,
        env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )
    seconds = time.monotonic() - started
    # vfs stores every layer in full: drop the image a rebuild left untagged, and the build
    # cache no build used for an hour (earlier versions of the code), so that the disk use
    # stays bounded however often CI builds; the cache of this build stays for the next.
    docker("image", "prune", "--force", "--filter", f"label={LABEL}")
    docker("builder", "prune", "--force", "--filter", "unused-for=1h")
    return seconds
