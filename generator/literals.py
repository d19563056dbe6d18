"""One string-literal function per target language.

Each function turns any Python ``str`` into source text that, compiled in its
language, evaluates to exactly that string: quotes, backslashes, control
characters, non-ASCII, U+2028 and each language's interpolation markers
(Kotlin ``$``, Swift ``\\(``, PHP ``$`` and ``{$``) included. The output is
plain ASCII, so a literal never depends on the file's encoding and never
contains a raw line terminator. Templates never escape anything themselves.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: Sequences that end or open a comment, or change how a lexer reads it, in some
#: target language: block comment ends and (nested, Kotlin and Swift) starts, PHP's
#: close tag (it ends PHP mode even inside a // comment), Python's docstring quote.
_COMMENT_HAZARDS = ("*/", "/*", "?>", '"""')


def comment_problem(text: str) -> str:
    """Why ``text`` cannot stand in a comment of every target language, or "".

    Comment text is printable ASCII without a backslash (Java reads ``\\uXXXX``
    everywhere, comments included; Python docstrings read every escape) and without
    any sequence that ends or opens a comment in some language.
    """
    if any(not " " <= char <= "~" for char in text):
        return "must be printable ASCII (no line breaks or control characters)"
    if "\\" in text:
        return "must not contain a backslash"
    for hazard in _COMMENT_HAZARDS:
        if hazard in text:
            return f"must not contain {hazard!r}"
    return ""


class Code(str):
    """Text that is already valid code in the target language.

    The Jinja environment only prints ``Code`` (and numbers): a bare ``str``
    from the spec or the command line cannot reach generated code unescaped.
    """


def _plain(named: dict[str, str]) -> re.Pattern[str]:
    """Matches text that needs no escape at all: printable ASCII, none of ``named``."""
    allowed = "".join(re.escape(chr(c)) for c in range(0x20, 0x7F) if chr(c) not in named)
    return re.compile(f"[{allowed}]*")


_PLAIN: dict[int, re.Pattern[str]] = {}


def _encode(
    value: str,
    named: dict[str, str],
    other: Callable[[int], str],
) -> Code:
    plain = _PLAIN.get(id(named))
    if plain is None:
        plain = _PLAIN.setdefault(id(named), _plain(named))
    if plain.fullmatch(value):  # the common case, a plain id or key: nothing to escape
        return Code('"' + value + '"')
    out = []
    for char in value:
        if char in named:
            out.append(named[char])
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append(other(ord(char)))
    return Code('"' + "".join(out) + '"')


def _utf16_units(code: int) -> list[int]:
    if code < 0x10000:
        return [code]
    code -= 0x10000
    return [0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)]


def _backslash_u(code: int) -> str:
    return "".join(f"\\u{unit:04x}" for unit in _utf16_units(code))


_C_LIKE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_PHP_DOUBLE = {**_C_LIKE, "$": "\\$"}
_KOTLIN = {**_C_LIKE, "$": "\\$"}
_SWIFT = {**_C_LIKE, "\0": "\\0"}
_RUBY = {**_C_LIKE, "#": "\\#"}
#: What a single-quoted PHP string holds as it is: printable ASCII but ' and \.
_PHP_SINGLE = re.compile(r"[ -&(-\[\]-~]*")


def python_literal(value: str) -> Code:
    """A double-quoted Python ``str`` literal."""

    def other(code: int) -> str:
        if code < 0x100:
            return f"\\x{code:02x}"
        if code < 0x10000:
            return f"\\u{code:04x}"
        return f"\\U{code:08x}"

    return _encode(value, _C_LIKE, other)


def php_literal(value: str) -> Code:
    """A PHP string: single-quoted when that needs no escape (PSR-12 habit).

    Otherwise double-quoted, with ``$`` escaped so nothing interpolates.
    """
    if _PHP_SINGLE.fullmatch(value):
        return Code(f"'{value}'")

    def other(code: int) -> str:
        if code < 0x80:
            return f"\\x{code:02x}"
        return f"\\u{{{code:x}}}"

    return _encode(value, _PHP_DOUBLE, other)


def csharp_literal(value: str) -> Code:
    """A regular (non-verbatim, non-interpolated) C# string literal."""

    def other(code: int) -> str:
        # \x is variable-length in C#; \u and \U are not.
        if code < 0x10000:
            return f"\\u{code:04x}"
        return f"\\U{code:08x}"

    return _encode(value, _C_LIKE, other)


def java_literal(value: str) -> Code:
    """A Java string literal.

    Java translates ``\\uXXXX`` escapes before it lexes, so ``\\u000a`` would
    be a raw line break and ``\\u0022`` a closing quote: ASCII control
    characters use three-digit octal escapes instead.
    """

    def other(code: int) -> str:
        if code < 0x80:
            return f"\\{code:03o}"
        return _backslash_u(code)

    return _encode(value, _C_LIKE, other)


def kotlin_literal(value: str) -> Code:
    """A Kotlin string literal; ``$`` is escaped so no template expression forms."""
    return _encode(value, _KOTLIN, _backslash_u)


def swift_literal(value: str) -> Code:
    """A Swift string literal; ``\\`` is escaped, so ``\\(`` cannot interpolate."""
    return _encode(value, _SWIFT, _swift_other)


def _swift_other(code: int) -> str:
    return f"\\u{{{code:x}}}"


def javascript_literal(value: str) -> Code:
    """A double-quoted JavaScript string (never a template literal, so ``${`` is text).

    U+2028 and U+2029 are escaped too: older engines end a line there.
    """
    return _encode(value, _C_LIKE, _backslash_u)


def go_literal(value: str) -> Code:
    """A Go interpreted string literal: ``\\xHH`` below 0x80, ``\\u`` / ``\\U`` above.

    Lone surrogates cannot be written in Go; values that are not valid UTF-8 text
    never reach a literal (generation refuses them).
    """

    def other(code: int) -> str:
        if code < 0x80:
            return f"\\x{code:02x}"
        if code < 0x10000:
            return f"\\u{code:04x}"
        return f"\\U{code:08x}"

    return _encode(value, _C_LIKE, other)


def ruby_literal(value: str) -> Code:
    """A double-quoted Ruby string; ``#`` is escaped so ``#{``, ``#@`` and ``#$`` stay text."""

    def other(code: int) -> str:
        if code < 0x80:
            return f"\\x{code:02x}"
        return f"\\u{{{code:x}}}"

    return _encode(value, _RUBY, other)


def shell_literal(value: str) -> Code:
    """A POSIX shell word (sh, bash, zsh, dash) that is exactly ``value``.

    Single quotes keep every character as it is; a ``'`` itself is closed, escaped and
    reopened (``'\\''``). A shell word cannot hold NUL, so such a value is refused.
    """
    if "\0" in value:
        raise ValueError("a shell word cannot hold NUL")
    return Code("'" + value.replace("'", "'\\''") + "'")
