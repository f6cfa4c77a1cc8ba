"""A private PostgreSQL cluster for tests that stop and start the server.

The shared server at TEST_DATABASE_URL is used by every other test and engineer; a test
that restarts PostgreSQL gets a cluster of its own instead: Debian's binaries, a
temporary data directory, a free loopback port, trust authentication.  ``initdb`` refuses
to run as root, so as root the cluster runs as the ``postgres`` system user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.kit.servers import free_port

BINARY_GLOBS = ("/usr/lib/postgresql/*/bin",)


def find_binaries() -> Path | None:
    """The newest directory holding ``initdb`` and ``pg_ctl``, or None."""
    candidates = sorted(
        (Path(p) for pattern in BINARY_GLOBS for p in glob.glob(pattern)),
        key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()],
    )
    for directory in reversed(candidates):
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    return None


class PrivateCluster:
    """``initdb``, ``start``, ``stop`` and ``url`` of a throwaway PostgreSQL cluster."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.as_root = os.geteuid() == 0
        # Not under pytest's tmp_path: that is private to root, and the server runs as
        # the postgres user.
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.password = "private-cluster-pw-" + os.urandom(6).hex()

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.binaries / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def init(self) -> PrivateCluster:
        self.sockets.mkdir()
        if self.as_root:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sockets, "postgres")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
            "--no-sync", "--locale=C.UTF-8",
        )  # fmt: skip
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def url(self) -> str:
        # Trust authentication ignores the password; it is there to prove none leaks.
        return f"postgresql+psycopg://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)
