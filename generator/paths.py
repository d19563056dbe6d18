"""Where the package's data lives: light enough for the command line to import first."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _resource(name: str) -> Path:
    """A data file shipped inside the wheel, or beside the package in a checkout."""
    installed = _PACKAGE / name
    return installed if installed.exists() else _PACKAGE.parent / name


PACKAGE_DIR = _PACKAGE
TEMPLATES_DIR = _resource("templates")
DEFAULT_SPEC = _resource("snippets_spec.yaml")
