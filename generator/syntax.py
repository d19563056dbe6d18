"""Parse generated code with tree-sitter: the check for languages with no compiler here.

Needs the ``verify`` extra (tree-sitter and one grammar per language).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import tree_sitter

from generator.languages import Language


def parser_for(language: Language) -> tree_sitter.Parser:
    module_name, function = language.grammar
    module = importlib.import_module(module_name)
    return tree_sitter.Parser(tree_sitter.Language(getattr(module, function)()))


def walk(node: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    yield node
    for child in node.children:
        yield from walk(child)


def parse_problems(language: Language, code: str) -> list[str]:
    """Every ERROR or MISSING node in ``code``, with its line and text."""
    tree = parser_for(language).parse(code.encode("utf-8"))
    problems = []
    for node in walk(tree.root_node):
        if node.is_error or node.is_missing:
            line = node.start_point[0] + 1
            text = (node.text or b"").decode("utf-8", "replace")[:60]
            kind = "missing" if node.is_missing else "error"
            problems.append(f"line {line}: {kind} {node.type} {text!r}")
    return problems
