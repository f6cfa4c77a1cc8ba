"""Uploaded files: spooled to disk at once, out of memory, and deleted when no longer needed.

Streamlit keeps an uploaded file in the server's memory for as long as its uploader
widget lives (and a while after the browser goes).  The Import page copies the upload
to a private file under ``var/uploads`` in 1 MiB pieces, then has Streamlit forget its
copy at once, so a 150 MB upload costs the process nothing after the copy.  Only the
spool's path, name and size are kept in the session.

A spool is deleted:

* when the import ends (the error report, when there is one, when the user starts
  over), or the user chooses another file (``discard``);
* when its browser session ends: a janitor thread (one per process) deletes spools whose
  session is no longer connected, every ``SWEEP_SECONDS``;
* when the dashboard starts (``janitor`` sweeps once first): spools of processes that no
  longer run are stale.

The size cap of an upload is ``MAX_UPLOAD_MB`` (``manage.py dashboard`` passes it to
Streamlit as ``server.maxUploadSize``; ``.streamlit/config.toml`` holds the default).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from config import VAR_DIR, make_private_dir

UPLOADS = VAR_DIR / "uploads"
SWEEP_SECONDS = 60.0
CHUNK = 1024 * 1024
NO_SESSION = "none"  # a file made outside a browser session's run
_NAME = re.compile(rf"^(?P<pid>\d+)-(?P<session>[0-9a-f-]+|{NO_SESSION})-[^.]+\.(?:upload|report)$")


@dataclass(frozen=True)
class Spool:
    """What the session keeps of an upload: where its copy is, not its bytes."""

    file_id: str
    name: str
    path: str
    size: int

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix.lower()


def _session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else NO_SESSION


def new_file(kind: str = "upload") -> tuple[IO[bytes], str]:
    """A private file in the uploads folder, named after this process and session."""
    make_private_dir(UPLOADS)
    janitor()
    handle, path = tempfile.mkstemp(
        prefix=f"{os.getpid()}-{_session_id()}-", suffix=f".{kind}", dir=UPLOADS
    )
    return os.fdopen(handle, "wb"), path


def spool(uploaded: st.runtime.uploaded_file_manager.UploadedFile) -> Spool:
    """Copy an upload to disk and make Streamlit forget its in-memory copy."""
    handle, path = new_file()
    try:
        with handle:
            uploaded.seek(0)
            shutil.copyfileobj(uploaded, handle, CHUNK)
        result = Spool(uploaded.file_id, uploaded.name, path, os.path.getsize(path))
    except BaseException:
        discard(path)  # a disk that filled up keeps no half copy
        raise
    forget_in_memory(uploaded.file_id)
    return result


def forget_in_memory(file_id: str) -> None:
    """Drop Streamlit's copy of an uploaded file (the spool is what we read).

    The upload manager is the one the running script reads its uploads from (the
    runtime's, in a server): the copy that widget's later runs would otherwise keep.
    """
    ctx = get_script_run_ctx()
    if ctx is None:
        return
    with contextlib.suppress(Exception):  # best effort: an internal of Streamlit's
        remove = getattr(ctx.uploaded_file_mgr, "remove_file", None)  # the in-memory one has it
        if remove is not None:
            remove(ctx.session_id, file_id)


def discard(path: str | None) -> None:
    if path:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> int:
    """Delete spools of ended sessions and of processes that no longer run."""
    if not UPLOADS.exists():
        return 0
    runtime = Runtime.instance() if Runtime.exists() else None
    removed = 0
    for path in UPLOADS.iterdir():
        match = _NAME.match(path.name)
        if match is None:
            continue
        pid = int(match["pid"])
        session = match["session"]
        if pid == os.getpid():
            stale = (
                runtime is not None
                and session != NO_SESSION
                and not runtime.is_active_session(session)
            )
        else:
            stale = not _process_alive(pid)
        if stale:
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
    return removed


_started = threading.Lock()
_janitor: threading.Thread | None = None


def janitor() -> None:
    """Start the sweeping thread of this process once (and sweep once now)."""
    global _janitor
    with _started:
        if _janitor is not None and _janitor.is_alive():
            return
        sweep()

        def loop() -> None:
            while True:
                time.sleep(SWEEP_SECONDS)
                with contextlib.suppress(Exception):
                    sweep()

        _janitor = threading.Thread(target=loop, name="upload-janitor", daemon=True)
        _janitor.start()
