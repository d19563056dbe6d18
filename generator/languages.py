"""The target languages: one object each, and the registry the pipeline walks.

Adding a language is adding a ``Language`` here, a folder under ``templates/``
and an entry under ``languages:`` in the spec; nothing else changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import black
from black.parsing import InvalidInput

from generator import literals
from generator.errors import SnippetsError
from generator.literals import Code

VARIANTS = ("snippet", "reporter")
#: Languages whose reporter variant is not written yet.
_SNIPPET_ONLY = ("snippet",)


def format_python(code: str, template: str) -> str:
    """Format generated Python with black; name the template if it is not Python."""
    try:
        return black.format_str(code, mode=_BLACK_MODE)
    except InvalidInput as exc:
        raise SnippetsError(f"{template} produced invalid Python: {exc}") from None


_BLACK_MODE = black.Mode()


@dataclass(frozen=True)
class Language:
    name: str
    #: Human name, for listings.
    title: str
    extension: str
    #: File name of the generated file, without extension: what the language's
    #: own conventions want (a Java public class lives in ``Nevision.java``).
    file_stem: str
    variants: tuple[str, ...]
    literal: Callable[[str], Code]
    #: Called with the rendered code and the template's name.
    formatter: Callable[[str, str], str] | None
    #: ``(module, function)`` of the tree-sitter grammar that parses the output.
    grammar: tuple[str, str]
    #: How a multi-word name is written: ``snake`` (``timestamp_ms``) or
    #: ``camel`` (``timestampMs``).
    naming: str = "camel"

    def ident(self, name: str) -> Code:
        """A generator-chosen snake_case name, in this language's convention."""
        if not re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", name):
            raise SnippetsError(f"{name!r} is not a snake_case name")
        if self.naming == "snake":
            return Code(name)
        first, *rest = name.split("_")
        return Code(first + "".join(word.capitalize() for word in rest))

    @property
    def filename(self) -> str:
        return f"{self.file_stem}.{self.extension}"

    def template(self, variant: str) -> str:
        return f"{self.name}/{variant}.{self.extension}.j2"

    @property
    def driver_template(self) -> str:
        """The program ``verify`` builds beside the generated code."""
        return f"{self.name}/driver.{self.extension}.j2"

    @property
    def bench_template(self) -> str:
        """The program that times a burst of reports (tests and benchmarks)."""
        return f"{self.name}/bench.{self.extension}.j2"

    def output_path(self, variant: str) -> str:
        """Where this language and variant live inside an output folder."""
        return f"{self.name}/{variant}/{self.filename}"


LANGUAGES: dict[str, Language] = {
    language.name: language
    for language in (
        Language(
            name="python",
            title="Python",
            extension="py",
            file_stem="nevision",
            variants=VARIANTS,
            literal=literals.python_literal,
            formatter=format_python,
            grammar=("tree_sitter_python", "language"),
            naming="snake",
        ),
        Language(
            name="php",
            title="PHP",
            extension="php",
            file_stem="nevision",
            variants=VARIANTS,
            literal=literals.php_literal,
            formatter=None,
            grammar=("tree_sitter_php", "language_php"),
            naming="snake",
        ),
        Language(
            name="csharp",
            title="C#",
            extension="cs",
            file_stem="Nevision",
            variants=VARIANTS,
            literal=literals.csharp_literal,
            formatter=None,
            grammar=("tree_sitter_c_sharp", "language"),
        ),
        Language(
            name="java",
            title="Java",
            extension="java",
            file_stem="Nevision",
            variants=VARIANTS,
            literal=literals.java_literal,
            formatter=None,
            grammar=("tree_sitter_java", "language"),
        ),
        Language(
            name="kotlin",
            title="Kotlin",
            extension="kt",
            file_stem="Nevision",
            variants=VARIANTS,
            literal=literals.kotlin_literal,
            formatter=None,
            grammar=("tree_sitter_kotlin", "language"),
        ),
        Language(
            name="swift",
            title="Swift",
            extension="swift",
            file_stem="Nevision",
            variants=VARIANTS,
            literal=literals.swift_literal,
            formatter=None,
            grammar=("tree_sitter_swift", "language"),
        ),
    )
}


def get_language(name: str) -> Language:
    try:
        return LANGUAGES[name]
    except KeyError:
        known = ", ".join(LANGUAGES)
        raise SnippetsError(f"unknown language {name!r}; choose one of: {known}") from None
