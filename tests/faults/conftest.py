"""Fixtures the fault tests borrow: the API client and the dashboard runner."""

from tests.api.conftest import app, as_user, client  # noqa: F401 - fixtures, re-exported
from tests.ui.conftest import dashboard  # noqa: F401 - fixture, re-exported
