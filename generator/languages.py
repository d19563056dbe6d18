"""The target languages: one object each, and the registry the pipeline walks.

Adding a language is adding a ``Language`` here, a folder under ``templates/``
and an entry under ``languages:`` in the spec; nothing else changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from generator import literals
from generator.errors import SnippetsError
from generator.literals import Code

VARIANTS = ("snippet", "reporter")


def _words(text: str) -> frozenset[str]:
    """Reserved words: none may be a segment of a package or namespace name."""
    return frozenset(text.split())


_JAVA_RESERVED = _words(
    "abstract assert boolean break byte case catch char class const continue default do "
    "double else enum extends final finally float for goto if implements import instanceof "
    "int interface long native new package private protected public return short static "
    "strictfp super switch synchronized this throw throws transient try void volatile while "
    "true false null _ var record yield sealed permits non-sealed"
)
_KOTLIN_RESERVED = _words(
    "as break class continue do else false for fun if in interface is null object package "
    "return super this throw true try typealias typeof val var when while"
)
_CSHARP_RESERVED = _words(
    "abstract as base bool break byte case catch char checked class const continue decimal "
    "default delegate do double else enum event explicit extern false finally fixed float for "
    "foreach goto if implicit in int interface internal is lock long namespace new null "
    "object operator out override params private protected public readonly ref return sbyte "
    "sealed short sizeof stackalloc static string struct switch this throw true try typeof "
    "uint ulong unchecked unsafe ushort using virtual void volatile while"
)
_PHP_RESERVED = _words(
    "abstract and array as break callable case catch class clone const continue declare "
    "default do echo else elseif empty enddeclare endfor endforeach endif endswitch endwhile "
    "enum eval exit extends final finally fn for foreach function global goto if implements "
    "include include_once instanceof insteadof interface isset list match namespace new or "
    "print private protected public readonly require require_once return static switch throw "
    "trait try unset use var while xor yield"
)
#: Longest package or namespace name accepted (far beyond any real one).
_MAX_PACKAGE = 200


def _segments_check(
    separator: str, pattern: str, reserved: frozenset[str], casefold: bool = False
) -> Callable[[str], str]:
    segment = re.compile(pattern)

    def check(name: str) -> str:
        if len(name) > _MAX_PACKAGE:
            return f"longer than {_MAX_PACKAGE} characters"
        for part in name.split(separator):
            if not segment.fullmatch(part):
                return f"{part!r} is not a name (expected {pattern}, separated by {separator!r})"
            if (part.lower() if casefold else part) in reserved:
                return f"{part!r} is a reserved word"
        return ""

    return check


_java_package = _segments_check(".", r"[A-Za-z_$][A-Za-z0-9_$]*", _JAVA_RESERVED)
_kotlin_package = _segments_check(".", r"[A-Za-z_][A-Za-z0-9_]*", _KOTLIN_RESERVED)
_csharp_namespace = _segments_check(".", r"[A-Za-z_][A-Za-z0-9_]*", _CSHARP_RESERVED)
_php_namespace = _segments_check("\\", r"[A-Za-z_][A-Za-z0-9_]*", _PHP_RESERVED, casefold=True)
#: Languages whose reporter variant is not written yet.
_SNIPPET_ONLY = ("snippet",)


#: black's line length: a formatted line longer than this may be laid out otherwise.
PYTHON_LINE_LENGTH = 88


def format_python(code: str, template: str) -> str:
    """Format generated Python with black; name the template if it is not Python."""
    import black  # imported only when Python is formatted: it costs 70 ms
    from black.parsing import InvalidInput

    try:
        return black.format_str(code, mode=black.Mode(line_length=PYTHON_LINE_LENGTH))
    except InvalidInput as exc:
        raise SnippetsError(f"{template} produced invalid Python: {exc}") from None


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
    #: How a caller puts the code in their own package: ``--package`` (Java, Kotlin)
    #: or ``--namespace`` (C#, PHP); None where the language has no such thing.
    package_option: str | None = None
    #: Checks a package or namespace name: returns what is wrong, or "".
    package_check: Callable[[str], str] | None = None
    #: What separates the parts of a namespace; a dotted name given is converted.
    package_separator: str = "."
    #: The formatter's line length, where a formatter lays out lines by their length.
    line_length: int | None = None
    #: What Markdown code blocks (Pygments, Prism) call the language, where not ``name``.
    highlight_name: str | None = None

    @property
    def highlight(self) -> str:
        """The info string of a Markdown code block holding this language's code."""
        return self.highlight_name or self.name

    def package(self, name: str | None) -> Code | None:
        """A validated package or namespace name, or None for the docs' default."""
        if name is None:
            return None
        if self.package_option is None or self.package_check is None:
            raise SnippetsError(f"{self.name} code has no package or namespace")
        name = name.replace(".", self.package_separator)
        problem = self.package_check(name)
        if problem:
            raise SnippetsError(f"{self.package_option} {name!r}: {problem}")
        return Code(name)

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
            line_length=PYTHON_LINE_LENGTH,
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
            package_option="--namespace",
            package_check=_php_namespace,
            package_separator="\\",
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
            package_option="--namespace",
            package_check=_csharp_namespace,
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
            package_option="--package",
            package_check=_java_package,
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
            package_option="--package",
            package_check=_kotlin_package,
        ),
        Language(
            name="node",
            title="Node.js",
            # .cjs: CommonJS whatever the application's package.json says, so both a
            # require() and an ES-module import load the one file unchanged.
            extension="cjs",
            file_stem="nevision",
            variants=VARIANTS,
            literal=literals.javascript_literal,
            formatter=None,
            grammar=("tree_sitter_javascript", "language"),
            highlight_name="javascript",
        ),
        Language(
            name="go",
            title="Go",
            extension="go",
            file_stem="nevision",
            variants=VARIANTS,
            literal=literals.go_literal,
            formatter=None,
            grammar=("tree_sitter_go", "language"),
        ),
        Language(
            name="ruby",
            title="Ruby",
            extension="rb",
            file_stem="nevision",
            variants=VARIANTS,
            literal=literals.ruby_literal,
            formatter=None,
            grammar=("tree_sitter_ruby", "language"),
            naming="snake",
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


def every_target(packages: dict[str, str] | None = None) -> list[tuple[str, str, str | None]]:
    """Every (language, variant, package) of an output folder.

    ``packages`` maps ``--package`` / ``--namespace`` to a name, given to each
    language that takes that option.
    """
    chosen = packages or {}
    return [
        (lang.name, variant, chosen.get(lang.package_option) if lang.package_option else None)
        for lang in LANGUAGES.values()
        for variant in lang.variants
    ]


def get_language(name: str) -> Language:
    try:
        return LANGUAGES[name]
    except KeyError:
        known = ", ".join(LANGUAGES)
        raise SnippetsError(f"unknown language {name!r}; choose one of: {known}") from None
