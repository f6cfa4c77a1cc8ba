"""Servers on loopback for tests and benchmarks, and the process plumbing they share.

* ``free_port()``: a port nothing listens on now;
* ``LiveServer``: uvicorn serving an app in a thread of this process (API tests);
* ``ServedProcess``: a server in a process of its own, its output in a file, stopped by
  its process id; its CPU time (with its children's) can be read;
* ``ApiProcess``: ``python -m api``, the product's own front door (what ``manage.py api``
  execs), for the load benchmarks and the soak.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

PROJECT_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A loopback port that nothing listens on at this moment."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def answers(url: str, *, expect: bytes | None = None, timeout: float = 2.0) -> bool:
    """True when a GET of ``url`` succeeds (and its body, stripped, is ``expect``)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            body: bytes = response.read()
    except (urllib.error.URLError, OSError):
        return False
    return expect is None or body.strip() == expect


class LiveServer:
    """uvicorn serving ``app`` on a free loopback port, in a thread of this process.

    ``options`` go to ``uvicorn.Config`` and override its defaults here (quiet logs, no
    access log, no lifespan): ``proxy_headers``, ``forwarded_allow_ips``, ``log_config``...
    """

    def __init__(self, app: Any, **options: Any) -> None:
        import uvicorn

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.port = int(self.socket.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        settings: dict[str, Any] = {
            "log_level": "warning",
            "access_log": False,
            "lifespan": "off",
            **options,
        }
        self.server = uvicorn.Server(uvicorn.Config(app, **settings))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


def descendants(parent: int) -> list[int]:
    """Every descendant process of ``parent`` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [parent]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its living descendants so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for one in [pid, *descendants(pid)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


class ServedProcess:
    """A server in a subprocess of its own: output to ``log`` (else a temporary file),
    started by ``start()`` once ``ready()`` holds, stopped by its process id."""

    stop_signal = signal.SIGINT
    startup_seconds = 90.0

    def __init__(
        self,
        command: Sequence[str],
        *,
        env: Mapping[str, str],
        log: Path | None = None,
        cwd: Path = PROJECT_DIR,
    ) -> None:
        self.command = list(command)
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self) -> Self:
        self._log = (
            self.log_path.open("w+b") if self.log_path is not None else tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        )
        self.process = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + self.startup_seconds
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.output()
                self.stop()
                raise RuntimeError(
                    f"{' '.join(self.command[1:4])} did not start "
                    f"(exit code {self.process.returncode}):\n{tail}"
                )
            time.sleep(0.2)
        return self

    def output(self, chars: int = 3000) -> str:
        """The last ``chars`` of what the server wrote."""
        if self._log is None or self._log.closed:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-chars:]

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self, timeout: float = 30) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(self.stop_signal)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self) -> None:
        self.stop()
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class ApiProcess(ServedProcess):
    """``python -m api`` (what ``manage.py api`` execs) on a free loopback port."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        workers: int = 1,
        port: int | None = None,
        log: Path | None = None,
        python: str = sys.executable,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        command = [python, "-m", "api", "--port", str(self.port), "--workers", str(workers)]
        super().__init__(command, env=env, log=log)

    def ready(self) -> bool:
        return answers(f"{self.url}/openapi.json")


def wait_until(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll ``check`` every 50 ms until it holds; ``TimeoutError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.05)
