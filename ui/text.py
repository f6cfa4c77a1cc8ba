"""User text inside markdown: shown as it is, never as formatting.

Streamlit renders ``st.write``, ``st.warning``, toasts, captions and widget labels as
markdown, with its own additions (``:red[...]`` colours, ``:material/...:`` icons,
``$...$`` formulas, ``:word`` directives).  A customer named ``[Pay here](https://…)``
would become a link in every message that names it, and ``![x](https://…)`` an image
fetched by every browser that shows it.  ``literal`` backslash-escapes every ASCII
punctuation character (CommonMark's escapes), which turns all of that into plain text.
"""

from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")


def literal(text: object) -> str:
    """``text`` escaped for markdown, so that it is shown exactly as it is."""
    return _PUNCTUATION.sub(r"\\\1", str(text))
