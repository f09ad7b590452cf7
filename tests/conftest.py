"""Fixtures shared by the model's tests."""

from __future__ import annotations

import pytest

from model import load_scenario


@pytest.fixture(scope="module")
def sc():
    """The default scenario (rare earths)."""
    return load_scenario("rare_earths")
