from __future__ import annotations

import pytest

from generator.render import Generator
from tests.support import generator_for


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        help="Rewrite tests/snapshots from the current templates instead of comparing.",
    )


@pytest.fixture(scope="session")
def generator() -> Generator:
    return generator_for()
