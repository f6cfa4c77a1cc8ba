"""Customers: search, sort, page, edit in place, add, edit, delete, export."""

import streamlit as st

from data.errors import DataError, Forbidden
from data.models import Role
from ui import auth, customer_actions, customer_form, feedback
from ui import grid as g
from ui.customer_table import PageState, load_page, paging_controls, table_controls
from ui.db import database
from ui.export import export_control
from ui.text import literal

user = auth.require(Role.VIEWER)
editor = auth.can(user, Role.EDITOR)

title, add = st.columns([5, 1], vertical_alignment="bottom")
title.title("Customers")
if editor and add.button(
    "Add Customer", type="primary", icon=":material/person_add:", width="stretch"
):
    customer_form.open_form()

feedback.show_pending()
customer_actions.render_undo(user)

query = table_controls(user)
state = PageState(user, query)
try:
    rows, page = load_page(user, query, state)
except DataError as exc:
    st.error(str(exc))
    st.stop()

if page.total.value == 0 and not state.drafts:
    if query.search:
        st.info(
            f"No customer matches “{literal(query.search)}”. "
            "Try fewer letters, or clear the search."
        )
    elif editor:
        st.info(
            "No customers yet. Add one with **Add Customer**, "
            "or bring a list in with **Import CSV**."
        )
    else:
        st.info("No customers yet.")
    customer_form.render(user)
    st.stop()

frame = g.build_frame(rows, state.drafts)
columns = {
    g.SELECT: st.column_config.CheckboxColumn("", width=40, help="Select for Edit or Delete"),
    "Name": st.column_config.TextColumn("Name", required=True, max_chars=200, width="medium"),
    "Email": st.column_config.TextColumn("Email", required=True, max_chars=254, width="medium"),
    "Phone": st.column_config.TextColumn("Phone", max_chars=50, width="small"),
    "Address": st.column_config.TextColumn("Address", max_chars=500, width="large"),
    g.PROBLEM: st.column_config.TextColumn("Problem", disabled=True, width="medium"),
}
order = [g.SELECT, "Name", "Email", "Phone", "Address"]
if state.drafts:
    order.insert(1, g.PROBLEM)  # first thing to read on a row that failed

toolbar = st.container()
if editor:
    edited = st.data_editor(
        frame,
        key=state.editor_key,
        column_config=columns,
        column_order=order,
        disabled=[g.PROBLEM, g.ID, g.VERSION, g.DRAFT],
        num_rows="add",
        hide_index=True,
        width="stretch",
    )
else:
    edited = frame
    st.dataframe(
        frame, column_order=order[1:], column_config=columns, hide_index=True, width="stretch"
    )

paging_controls(query, page, state)

if editor:
    changes = g.collect_changes(rows, edited)
    picked = g.selected_ids(edited)
    buttons = toolbar.columns([1, 1, 1.6, 1, 1.4, 1.2], vertical_alignment="center")
    if buttons[0].button(
        "Edit",
        icon=":material/edit:",
        disabled=len(picked) != 1,
        help="Tick exactly one row to edit it in a form",
    ):
        customer_form.open_form(picked[0])
    if buttons[1].button(
        "Delete", icon=":material/delete:", disabled=not picked, help="Tick the rows to delete"
    ):
        customer_actions.ask_delete(picked)
    save = buttons[2].button(
        f"Save changes ({len(changes)})" if changes else "Save changes",
        type="primary",
        icon=":material/save:",
        disabled=not changes,
    )
    if buttons[3].button("Discard", disabled=not changes and not state.drafts):
        state.discard()
        st.rerun()
    if save:
        try:
            result = g.save_changes(database(), user, changes)
        except Forbidden as exc:
            st.error(str(exc))
        except DataError as exc:
            st.error(f"Nothing was saved: {exc}")
        else:
            state.after_save(result)
            if result.written:
                feedback.changed(user.tenant_id)
                feedback.success(
                    f"Saved {result.written} customer{'s' if result.written != 1 else ''}."
                )
            st.rerun()
    state.render_problems()
    export_control(user, query.search, buttons[5])
else:
    export_control(user, query.search, toolbar.columns([5, 1.2])[1])

customer_form.render(user)
customer_actions.render_confirm(user)
