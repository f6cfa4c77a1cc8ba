"""Import: upload → match columns → check → import, with a progress bar and a report."""

import streamlit as st

from data.identity import Permission
from ui import auth, errors
from ui import import_wizard as wizard

user = auth.require(Permission.IMPORT)

st.title("Import customers")
errors.show_pending()

upload = wizard.upload_step()
if upload is None:
    st.stop()

done = wizard.finished()
if done is not None:
    wizard.show_result(done)
    st.stop()

info = wizard.preview_step(upload)
if info is None:
    st.stop()

mapping = wizard.mapping_step(info)
mode, partial = wizard.options_step()
checked = wizard.check_step(user, upload, info, mapping, mode)
wizard.import_step(user, upload, mapping, mode, partial, checked, sheet=info.sheet)
