"""The Duplicates page's pieces: the queue table, the side-by-side comparison, the merge.

User text (names, emails, addresses) goes only into dataframe cells, which Streamlit
draws as plain text (``ui.text``); labels, captions and options are our own sentences.
Differing fields are marked twice: a ``≠`` column, and a highlighted row (a pandas
Styler, whose colours are ours).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from data.duplicates.merge import Side, default_choices
from data.duplicates.service import PairView
from data.errors import DataError
from data.fields import FIELDS
from data.identity import Permission
from data.schemas import CustomerOut
from ui import errors, feedback
from ui.auth import SignedIn
from ui.db import scope
from ui.state import StateKey
from ui.timefmt import local

FIRST, SECOND = "Customer 1", "Customer 2"
DIFFERS = "≠"
HIGHLIGHT = "background-color: rgb(255, 243, 205)"
# Bumped after a merge or a dismissal: the queue is drawn afresh, with nothing chosen.
DRAWN = StateKey[int]("duplicates_table_generation")


def queue_frame(pairs: list[PairView]) -> pd.DataFrame:
    """One row per pair: score, reasons, both names and emails."""
    return pd.DataFrame(
        [
            {
                "Score": pair.score,
                "Why": pair.reasons_text(),
                "Name 1": pair.first.name,
                "Email 1": pair.first.email,
                "Name 2": pair.second.name,
                "Email 2": pair.second.email,
            }
            for pair in pairs
        ],
        columns=["Score", "Why", "Name 1", "Email 1", "Name 2", "Email 2"],
    )


def comparison(pair: PairView) -> Styler:
    """Field by field, both customers side by side; the fields that differ highlighted."""
    differing = set(pair.differing())
    rows: list[dict[str, Any]] = [
        {
            "Field": field.label,
            DIFFERS: DIFFERS if field.name in differing else "",
            FIRST: pair.first.values.get(field.name) or "",
            SECOND: pair.second.values.get(field.name) or "",
        }
        for field in FIELDS
    ]
    for label, attribute in (("Added", "created_at"), ("Last changed", "updated_at")):
        rows.append(
            {
                "Field": label,
                DIFFERS: "",
                FIRST: local(getattr(pair.first, attribute)),
                SECOND: local(getattr(pair.second, attribute)),
            }
        )
    frame = pd.DataFrame(rows, columns=["Field", DIFFERS, FIRST, SECOND])

    def shade(row: pd.Series) -> list[str]:
        return [HIGHLIGHT if row[DIFFERS] else "" for _ in row]

    return frame.style.apply(shade, axis=1)


def _older_first(pair: PairView) -> tuple[CustomerOut, CustomerOut]:
    """The customer added first, then the other: by default the first is kept."""
    if pair.second.created_at < pair.first.created_at:
        return pair.second, pair.first
    return pair.first, pair.second


def merge_panel(user: SignedIn, pair: PairView) -> None:
    """Which customer stays, per differing field whose value stays, and the buttons."""
    number = {pair.first.id: FIRST, pair.second.id: SECOND}
    default_keep, _ = _older_first(pair)
    versions = f"{pair.first.version}:{pair.second.version}"
    kept_label = st.radio(
        "Keep",
        [FIRST, SECOND],
        index=[FIRST, SECOND].index(number[default_keep.id]),
        horizontal=True,
        key=f"duplicates_keep:{pair.id}:{versions}",
        help="The customer that stays; the other is deleted (History can undo the merge).",
    )
    keep = pair.first if kept_label == FIRST else pair.second
    remove = pair.second if keep is pair.first else pair.first
    defaults = default_choices(keep, remove)
    chosen: dict[str, Side] = {}
    differing = pair.differing()
    if differing:
        st.caption("Whose value stays (preset: the newer one that is not empty)")
    for field in FIELDS:
        if field.name not in differing:
            continue
        preset = keep if defaults[field.name] == "keep" else remove
        picked = st.radio(
            field.label,
            [FIRST, SECOND],
            index=[FIRST, SECOND].index(number[preset.id]),
            horizontal=True,
            key=f"duplicates_field:{pair.id}:{keep.id}:{field.name}:{versions}",
        )
        owner = pair.first if picked == FIRST else pair.second
        chosen[field.name] = "keep" if owner is keep else "remove"
    merge, dismiss = st.columns(2)
    merge.button(
        "Merge",
        type="primary",
        icon=":material/call_merge:",
        key=f"duplicates_merge:{pair.id}",
        on_click=_merge,
        args=(user, keep, remove, chosen),
        width="stretch",
    )
    dismiss.button(
        "Not a duplicate",
        icon=":material/block:",
        key=f"duplicates_dismiss:{pair.id}",
        on_click=_dismiss,
        args=(user, pair.id),
        width="stretch",
        help="Dismisses the pair for good: it does not come back when found again.",
    )


def _merge(user: SignedIn, keep: CustomerOut, remove: CustomerOut, chosen: dict[str, Side]) -> None:
    try:
        with scope(user.identity, write=True) as writing:
            writing.duplicates.merge(
                keep.id, remove.id, choices=chosen, versions=(keep.version, remove.version)
            )
    except DataError as exc:
        errors.later(exc)
        return
    _done(user, "The customers were merged. History can undo it.")


def _dismiss(user: SignedIn, pair_id: str) -> None:
    try:
        with scope(user.identity, write=True) as writing:
            writing.duplicates.dismiss(pair_id)
    except DataError as exc:
        errors.later(exc)
        return
    _done(user, "The pair was dismissed.")


def _done(user: SignedIn, message: str) -> None:
    feedback.success(message)
    feedback.changed(user.tenant_id)
    DRAWN.set(DRAWN.get_or(0) + 1)


def can_decide(user: SignedIn) -> bool:
    return user.can(Permission.WRITE)
