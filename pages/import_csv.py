"""Import CSV: upload → match columns → check → import, with a progress bar and a report."""

import streamlit as st

from data.models import Role
from ui import auth
from ui import import_wizard as wizard

user = auth.require(Role.EDITOR)

st.title("Import customers")

upload = wizard.upload_step()
if upload is None:
    st.stop()

info = wizard.preview_step(upload)
if info is None:
    st.stop()

mapping = wizard.mapping_step(info)
mode, partial = wizard.options_step()
checked = wizard.check_step(user, upload, info, mapping, mode)
wizard.import_step(user, upload, mapping, mode, partial, checked)
