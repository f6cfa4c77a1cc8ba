"""Fixtures the fault tests borrow: the API client and the dashboard runner."""

from tests.api.conftest import app, as_user, client  # noqa: F401 - fixtures, re-exported
from tests.ui.conftest import (  # noqa: F401 - fixtures, re-exported
    dashboard,
    navigation_by_the_entry,  # autouse: each run goes through dashboard.py, as on a server
)
