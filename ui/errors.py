"""The dashboard's one translator of data-layer errors, as ``api.errors`` is the API's.

``problem_of(error)`` says where an error belongs: next to fields (``Invalid``, a
``Conflict`` on a field), as a conflict with someone else's values (``StaleVersion``),
or as one sentence for the form, row or page.  ``show`` draws it literally (its
sentences quote what users typed: ``ui.text``).  ``guard`` wraps a block of page code;
``later``/``show_pending`` carry an error from a button callback, which runs before the
page, to the page.  A session that ended (``Unauthenticated``) signs the browser out.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from data.errors import (
    Conflict,
    DataError,
    Forbidden,
    Invalid,
    NotFound,
    StaleVersion,
    Unauthenticated,
)
from ui import auth, text
from ui.state import StateKey

PENDING = StateKey[list[str]]("errors_pending")
UNEXPECTED = "Something went wrong; please retry."


@dataclass(frozen=True)
class Problem:
    """A data error, placed: a sentence, per-field sentences, someone else's values."""

    message: str
    fields: dict[str, str] = field(default_factory=dict)
    theirs: dict[str, Any] | None = None  # StaleVersion: the values someone else saved
    kind: str = "error"  # "error", "conflict", "gone", "forbidden", "signed_out"

    @property
    def summary(self) -> str:
        """One line for a row or a page: the field sentences, or the message."""
        return " ".join(self.fields.values()) if self.fields else self.message


def problem_of(error: DataError, *, gone: str | None = None) -> Problem:
    """Where ``error`` belongs.  ``gone`` replaces the sentence of a ``NotFound``."""
    if isinstance(error, Invalid):
        return Problem(error.message, dict(error.errors))
    if isinstance(error, StaleVersion):
        return Problem(error.message, theirs=error.current, kind="conflict")
    if isinstance(error, Conflict):
        return Problem(error.message, {error.field: error.message} if error.field else {})
    if isinstance(error, NotFound):
        return Problem(gone or error.message, kind="gone")
    if isinstance(error, Forbidden):
        return Problem(error.message, kind="forbidden")
    if isinstance(error, Unauthenticated):
        return Problem(error.message, kind="signed_out")
    return Problem(error.message)


def show(error: DataError | Problem, prefix: str = "") -> None:
    """Draw an error on the page, literally; a session that ended signs out."""
    problem = error if isinstance(error, Problem) else problem_of(error)
    if problem.kind == "signed_out":
        auth.request_sign_out(problem.message)
        st.rerun()
    text.error(f"{prefix}{problem.summary}")


def later(error: DataError, prefix: str = "") -> None:
    """From a button callback: keep the sentence for the page that runs next."""
    problem = problem_of(error)
    if problem.kind == "signed_out":
        auth.request_sign_out(problem.message)
        return
    PENDING.setdefault([]).append(f"{prefix}{problem.summary}")


def show_pending() -> None:
    for message in PENDING.pop() or []:
        text.error(message)


@contextmanager
def guard(prefix: str = "", *, stop: bool = True) -> Iterator[None]:
    """Run page code; a data error is shown (and, with ``stop``, ends the page there)."""
    try:
        yield
    except DataError as error:
        show(error, prefix)
        if stop:
            st.stop()
