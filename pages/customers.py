"""Customers: search, sort, page, edit in place, add, edit, delete, export."""

import streamlit as st

from data.errors import DataError
from data.fields import FIELDS
from data.identity import Permission
from ui import auth, customer_actions, customer_form, errors, feedback
from ui import grid as g
from ui.customer_table import PageState, load_page, paging_controls, table_controls
from ui.export import export_control

user = auth.require(Permission.READ)
editor = user.can(Permission.WRITE)

title, add = st.columns([5, 1], vertical_alignment="bottom")
title.title("Customers")
if editor and add.button(
    "Add Customer", type="primary", icon=":material/person_add:", width="stretch"
):
    customer_form.open_form()

feedback.show_pending()
errors.show_pending()
customer_actions.render_undo(user)

query = table_controls(user)
state = PageState(user, query)
with errors.guard():
    rows, page = load_page(user, query, state)

if page.total.value == 0 and not state.drafts:
    if query.search:
        st.info("No customer matches the search. Try fewer letters, or clear the search.")
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
    **{
        spec.label: st.column_config.TextColumn(
            spec.label, required=spec.required, max_chars=spec.max_length, width=spec.width
        )
        for spec in FIELDS
    },
    g.PROBLEM: st.column_config.TextColumn("Problem", disabled=True, width="medium"),
}
order = [g.SELECT, *(spec.label for spec in FIELDS)]
if state.drafts:
    order.insert(1, g.PROBLEM)  # first thing to read on a row that failed

toolbar = st.container(horizontal=True, vertical_alignment="center")  # filled below
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
    if toolbar.button(
        "Edit",
        icon=":material/edit:",
        disabled=len(picked) != 1,
        help="Tick exactly one row to edit it in a form",
    ):
        customer_form.open_form(picked[0])
    if toolbar.button(
        "Delete", icon=":material/delete:", disabled=not picked, help="Tick the rows to delete"
    ):
        customer_actions.ask_delete(picked)
    save = toolbar.button(
        f"Save changes ({len(changes)})" if changes else "Save changes",
        type="primary",
        icon=":material/save:",
        disabled=not changes,
    )
    if toolbar.button("Discard", disabled=not changes and not state.drafts):
        state.discard()
        st.rerun()
    if save:
        try:
            result = g.save_changes(user.identity, changes)
        except DataError as exc:
            errors.show(exc, "Nothing was saved: ")
        else:
            state.after_save(result)
            if result.written:
                feedback.changed(user.tenant_id)
                feedback.success(
                    f"Saved {result.written} customer{'s' if result.written != 1 else ''}."
                )
            st.rerun()
    state.render_problems()
with toolbar:
    st.space("stretch")  # Export at the right end
    export_control(user, query.search, toolbar)

customer_form.render(user)
customer_actions.render_confirm(user)
