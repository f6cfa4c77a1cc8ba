"""The dashboard as served (``streamlit run server.py``, as ``manage.py dashboard`` runs
it) on a free loopback port: for the browser tests (tests/e2e) and bench/browser.py."""

from __future__ import annotations

import secrets
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.kit.servers import ServedProcess, answers, free_port


class StreamlitServer(ServedProcess):
    """``streamlit run server.py`` over ``database_url``; ``start()`` returns once healthy.

    Secrets the server needs are generated unless ``env`` gives them; ``cookie_key`` is
    the one it uses (session secrets are stored as its HMAC).  ``env`` is added to this
    process's environment; ``drop_env`` names variables the server must not inherit.
    """

    stop_signal = signal.SIGTERM

    def __init__(
        self,
        database_url: str,
        *,
        log: Path | None = None,
        env: Mapping[str, str] | None = None,
        drop_env: tuple[str, ...] = (),
        script: str = "server.py",
        startup_seconds: float = 60.0,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        import os

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        merged = {
            **(base_env if base_env is not None else os.environ),
            "DATABASE_URL": database_url,
            "JWT_SECRET": secrets.token_urlsafe(48),
            "COOKIE_KEY": secrets.token_urlsafe(48),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        for name in drop_env:
            merged.pop(name, None)
        self.cookie_key = merged["COOKIE_KEY"]
        self.database_url = database_url
        self.startup_seconds = startup_seconds
        command = [sys.executable, "-m", "streamlit", "run", script]
        command += ["--server.headless", "true", "--server.port", str(self.port)]
        command += ["--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
        command += ["--browser.gatherUsageStats", "false"]
        super().__init__(command, env=merged, log=log)

    def ready(self) -> bool:
        return answers(f"{self.url}/_stcore/health", expect=b"ok")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.output(chars=20_000).splitlines()[-lines:])
