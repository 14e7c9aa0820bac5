"""The lab's managed PgBouncer: started in front of its PostgreSQL when the binary is here.

`Lab` (lessons.services.launcher) takes these methods.
"""

from __future__ import annotations

import subprocess

from django.conf import settings

from .pgbouncer import ManagedPgBouncer, PgBouncerError, find_binary, install_hint, new_password
from .pgbouncer_config import BouncerConfig
from .supervisor import Child, LabStartError


class WithPgBouncer:
    def start_pgbouncer(self) -> None:
        """A managed PgBouncer in front of the lab's PostgreSQL, when its binary is here."""
        from lessons import lab

        if settings.LAB["PGBOUNCER"] and not settings.LAB["PGBOUNCER"]["managed"]:
            return  # PGBOUNCER_URL: an external PgBouncer
        binary = find_binary()
        if binary is None:
            self.pgbouncer_problem = f"PgBouncer is not installed: {install_hint()}"
            return
        if self.demo_role_problem:
            self.pgbouncer_problem = f"PgBouncer needs the lab's roles: {self.demo_role_problem}"
            return
        import dj_database_url

        db = dj_database_url.parse(self.database_url)
        config = BouncerConfig(
            listen_port=self.pgbouncer_port,
            pg_host=db["HOST"] or "127.0.0.1",
            pg_port=int(db["PORT"] or 5432),
            dbname=db["NAME"],
            server_user=settings.LAB["BOUNCER_ROLE"],
            server_password=settings.LAB["BOUNCER_PASSWORD"],
            admin_password=new_password(),
            max_server_connections=lab.budget_slices(self.budget)["pgbouncer"],
        )
        self.bouncer = ManagedPgBouncer(config, self.pgbouncer_dir, binary)
        try:
            self.bouncer.start()
        except PgBouncerError as exc:
            raise LabStartError(str(exc)) from None
        self.children["pgbouncer"] = Child(
            "pgbouncer",
            self._restart_pgbouncer,
            self.bouncer.proc,
            stop_signal=self.bouncer.stop_signal(),
        )
        self.extra_env.update(
            POOLING_LAB_PGBOUNCER_HOST=config.listen_host,
            POOLING_LAB_PGBOUNCER_PORT=str(config.listen_port),
            POOLING_LAB_PGBOUNCER_VERSION=self.bouncer.version,
            POOLING_LAB_PGBOUNCER_ADMIN_USER=config.admin_user,
            POOLING_LAB_PGBOUNCER_ADMIN_PASSWORD=config.admin_password,
        )

    def pgbouncer_settings(self) -> dict | None:
        """What settings.LAB["PGBOUNCER"] holds in the children (see tutorial/settings.py)."""
        if self.bouncer is None:
            return None
        return {
            "host": self.bouncer.config.listen_host,
            "port": self.bouncer.port,
            "admin_user": self.bouncer.config.admin_user,
            "admin_password": self.bouncer.config.admin_password,
            "version": self.bouncer.version,
            "managed": True,
        }

    def _restart_pgbouncer(self) -> subprocess.Popen:
        self.bouncer.start()
        return self.bouncer.proc
