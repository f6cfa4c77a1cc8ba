"""Times shown in the browser's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st


def local(moment: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    zone_name = st.context.timezone
    try:
        zone = ZoneInfo(zone_name) if zone_name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return moment.astimezone(zone).strftime(fmt)
