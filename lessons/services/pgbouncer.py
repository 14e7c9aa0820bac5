"""The managed PgBouncer: the real binary, started as a child of the lab.

It listens on loopback only, in front of the lab's PostgreSQL, with a
configuration written at each start into its own work folder (ini, auth_file,
pid file, log). As root it runs as an unprivileged system user of its own.
"""

from __future__ import annotations

import os
import platform
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg
from psycopg.conninfo import make_conninfo

from .pgbouncer_config import (
    BouncerConfig,
    parse_version,
    render_hba,
    render_ini,
    render_userlist,
)
from .processes import port_is_free, spawn, stop, wait_for, who_listens

FALLBACK_BINARY = "/usr/sbin/pgbouncer"
# PgBouncer refuses to run as root; as root the lab runs it as this user.
SYSTEM_USER = "pooling_lab_pgbouncer"
# From 1.23 SIGTERM waits for every client to disconnect ("super safe
# shutdown"): persistent Django clients would keep it alive. SIGQUIT is the
# immediate shutdown there; on older versions SIGTERM is.
SIGQUIT_SINCE = (1, 23)


class PgBouncerError(RuntimeError):
    """PgBouncer is missing or could not start; the message says what to do."""


def find_binary() -> str | None:
    """PGBOUNCER_BIN if set (even if wrong: starting then says why), else PATH, else Debian's."""
    if configured := os.environ.get("PGBOUNCER_BIN"):
        return shutil.which(configured) or configured
    if found := shutil.which("pgbouncer"):
        return found
    return FALLBACK_BINARY if os.access(FALLBACK_BINARY, os.X_OK) else None


def install_hint() -> str:
    """The exact command that installs PgBouncer on this machine."""
    if platform.system() == "Darwin":
        return "brew install pgbouncer"
    sudo = "" if os.geteuid() == 0 else "sudo "
    if _debian_like():
        return f"{sudo}apt-get install pgbouncer"
    return (
        f"install the pgbouncer package (Debian/Ubuntu: {sudo}apt-get install pgbouncer, "
        "macOS: brew install pgbouncer) or set PGBOUNCER_BIN to the binary"
    )


def _debian_like() -> bool:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return False
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    words = f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}".strip('"').replace('"', "")
    return bool({"debian", "ubuntu"} & set(words.lower().split()))


def binary_version(path: str) -> str:
    """The version `pgbouncer --version` names, as "1.18.0"; PgBouncerError if not a PgBouncer."""
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        raise PgBouncerError(
            f"{path} could not be run as PgBouncer ({exc}).\n"
            f"Install it with: {install_hint()}\nor point PGBOUNCER_BIN at the pgbouncer binary."
        ) from exc
    first = (result.stdout or result.stderr).strip().splitlines()[:1]
    if result.returncode != 0 or not first or "bouncer" not in first[0].lower():
        raise PgBouncerError(
            f"{path} does not look like PgBouncer (`{path} --version` said "
            f"{(first or ['nothing'])[0]!r}).\nPoint PGBOUNCER_BIN at the pgbouncer binary, "
            f"or install it with: {install_hint()}"
        )
    return ".".join(str(part) for part in parse_version(first[0]))


def new_password() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class ManagedPgBouncer:
    config: BouncerConfig
    work_dir: Path
    binary: str | None = None
    version: str = ""
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # PgBouncer runs in its folder and reads these paths: make them absolute.
        self.work_dir = Path(self.work_dir).resolve()

    @property
    def port(self) -> int:
        return self.config.listen_port

    @property
    def ini_path(self) -> Path:
        return self.work_dir / "pgbouncer.ini"

    @property
    def userlist_path(self) -> Path:
        return self.work_dir / "userlist.txt"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "pgbouncer.log"

    @property
    def pid_path(self) -> Path:
        return self.work_dir / "pgbouncer.pid"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.alive() else None

    def conninfo(
        self,
        dbname: str,
        user: str | None = None,
        password: str | None = None,
        connect_timeout: int = 10,
    ) -> str:
        """A libpq connection string to `dbname` through this PgBouncer, as the client user.

        A client's login waits while its pool has never had a server and none can be
        opened (max_user_connections reached): allow it more than a few seconds.
        """
        client_user, client_password = self.config.client_login
        return make_conninfo(
            host=self.config.listen_host,
            port=self.port,
            dbname=dbname,
            user=user or client_user,
            password=password if password is not None else client_password,
            connect_timeout=connect_timeout,
        )

    def admin_conninfo(self) -> str:
        cfg = self.config
        return self.conninfo("pgbouncer", cfg.admin_user, cfg.admin_password, connect_timeout=2)

    def start(self, timeout: float = 15) -> None:
        if self.alive():
            return
        self.binary = self.binary or find_binary()
        if self.binary is None:
            raise PgBouncerError(f"PgBouncer is not installed. Install it with: {install_hint()}")
        self.version = binary_version(self.binary)
        user = self._write_files()
        self.clear_orphan()
        if self.log_path.exists():
            # One start per log: the previous one is kept beside it.
            self.log_path.replace(self.log_path.with_suffix(".log.1"))
        if not port_is_free(self.port, self.config.listen_host):
            raise PgBouncerError(
                f"Port {self.port}, wanted for PgBouncer, is in use by {who_listens(self.port)}.\n"
                "Stop that program, or give PgBouncer another port."
            )
        self.proc = spawn(
            [self.binary, str(self.ini_path)],
            log_path=self.log_path,
            user=user,
            death_signal=self.stop_signal(),
            cwd=self.work_dir,
        )
        try:
            wait_for(self.answers, timeout=timeout, proc=self.proc, what="PgBouncer")
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise PgBouncerError(self._start_failure(str(exc))) from None

    def stop(self) -> None:
        stop(self.proc, self.stop_signal(), timeout=10)
        self.proc = None

    def restart(self, timeout: float = 15) -> None:
        self.stop()
        self.start(timeout)

    def alive(self) -> bool:
        """The child is running (it may still be starting)."""
        return self.proc is not None and self.proc.poll() is None

    def answers(self) -> bool:
        """The admin console answers SHOW VERSION."""
        try:
            with psycopg.connect(
                self.admin_conninfo(), autocommit=True, cursor_factory=psycopg.ClientCursor
            ) as conn:
                return conn.execute("SHOW VERSION").fetchone() is not None
        except psycopg.Error:
            return False

    def clear_orphan(self) -> None:
        """Stop a PgBouncer a crashed lab left on this work folder; drop a stale pid file.

        PgBouncer refuses to start while its pid file names a live process, and
        after a reboot that PID may belong to anything.
        """
        try:
            pid = int(self.pid_path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            proc = psutil.Process(pid)
            ours = "pgbouncer" in proc.name() and str(self.ini_path) in proc.cmdline()
        except psutil.Error:
            ours = False
        if ours and self.alive() and self.proc.pid == pid:
            return  # our own child, running
        if ours:
            proc.kill()
            psutil.wait_procs([proc], timeout=10)
        self.pid_path.unlink(missing_ok=True)

    def stop_signal(self) -> int:
        new = self.version and parse_version(self.version) >= SIGQUIT_SINCE
        return signal.SIGQUIT if new else signal.SIGTERM

    def _write_files(self) -> str | None:
        """Write the ini and auth_file; as root, hand the folder to the system user."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.work_dir.chmod(0o700)
        ini = render_ini(
            self.config, parse_version(self.version), self.work_dir, self.userlist_path
        )
        _write_private(self.userlist_path, render_userlist(self.config))
        _write_private(self.work_dir / "hba.conf", render_hba(self.config))
        _write_private(self.ini_path, ini)
        user = _system_user() if os.geteuid() == 0 else None
        _own(self.work_dir, user)
        return user

    def _start_failure(self, why: str) -> str:
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-12:]
        except OSError:
            tail = []
        text = "\n".join(tail)
        if "Address already in use" in text:
            return (
                f"PgBouncer could not listen on port {self.port}: it is in use by "
                f"{who_listens(self.port)}. Stop that program, or give PgBouncer another port."
            )
        return f"PgBouncer did not start ({why}). The end of {self.log_path}:\n{text}"


def _system_user() -> str:
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        cmd = ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent"]
        cmd += ["--shell", "/usr/sbin/nologin", SYSTEM_USER]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise PgBouncerError(
                f"PgBouncer refuses to run as root, and the user {SYSTEM_USER!r} could not be "
                f"created ({getattr(exc, 'stderr', '') or exc}).\nCreate it with: "
                f"{' '.join(cmd)}\nor run the lab as an ordinary user."
            ) from None
    return SYSTEM_USER


def _write_private(path: Path, text: str) -> None:
    """Readable by its owner only, from the first byte: the auth_file holds passwords."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _own(work_dir: Path, user: str | None) -> None:
    """Hand the folder (ini, auth_file, log, pid) to PgBouncer's user."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for path in [work_dir, *work_dir.iterdir()]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    # The user must be able to walk down to its folder (traverse only, not list).
    for parent in work_dir.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)
