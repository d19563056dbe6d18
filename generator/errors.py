"""The one exception type the CLI turns into a one-line message and exit code 2."""

from __future__ import annotations


class SnippetsError(Exception):
    """A user-facing error: bad spec, bad option, broken template.

    ``str(error)`` is a single line that says what is wrong and where.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split("\n")))
