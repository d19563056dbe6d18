"""Random specs: either one line naming what and where, or code that means what the spec says.

Hypothesis writes YAML of random structure, tags and sizes, and the real spec with
one value replaced by text full of each language's comment and escape hazards.
Loading and rendering must then raise one :class:`SnippetsError` line, or produce
code that parses in every language, where text that is not safe in a comment
stands only inside the language's own string literal.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.errors import SnippetsError
from generator.languages import LANGUAGES
from generator.literals import comment_problem
from generator.paths import DEFAULT_SPEC
from generator.render import Generator
from generator.spec import load_spec
from generator.syntax import parse_problems

#: Pieces that end, open or change comments, strings or interpolation somewhere.
HAZARDS = [
    "*/", "/*", "\\u002a/", "\\uZZZZ", "?>", "<?php", '"""', "'''", "\\", '"', "'", "$x", "${x}",
    "\\(x)", "#{x}", "{$x}", "%s", "\n", "\r\n", "\u2028", "\0", "\x1b", "é", "😀", "--", "<!--",
]  # fmt: skip
hazard_text = st.lists(
    st.one_of(st.sampled_from(HAZARDS), st.text(max_size=8)), min_size=1, max_size=6
).map("".join)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hazard_text
)
structures = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)
#: Lines of the real spec that hold a value, and the text before the value.
SPEC_TEXT = DEFAULT_SPEC.read_text(encoding="utf-8")
VALUE_LINES = [
    (index, match.group(1))
    for index, line in enumerate(SPEC_TEXT.splitlines())
    if (match := re.match(r"^(\s*(?:- )?[a-z_]+: )\S", line))
]
TAGS = ["", "!!str ", "!!int ", "!!bool ", "!!float "]
DEFAULT_OUTPUTS = Generator.from_path().render_all()


def one_line(error: SnippetsError) -> None:
    message = str(error)
    assert message and "\n" not in message and "Traceback" not in message, message


def load_and_render(path: Path) -> dict[str, str] | None:
    """Every output of the spec at ``path``, or None after checking its one-line error."""
    try:
        generator = Generator(load_spec(path, LANGUAGES))
        return generator.render_all()
    except SnippetsError as error:
        one_line(error)
        return None


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=st.one_of(structures, hazard_text))
def test_random_yaml_is_one_line(tmp_path: Path, document: object) -> None:
    path = tmp_path / "spec.yaml"
    text = document if isinstance(document, str) else yaml.safe_dump(document)
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert load_and_render(path) is None  # no random document is a whole spec


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    line=st.sampled_from(VALUE_LINES),
    tag=st.sampled_from(TAGS),
    value=hazard_text,
)
def test_a_hostile_value_in_the_spec(
    tmp_path: Path, line: tuple[int, str], tag: str, value: str
) -> None:
    index, prefix = line
    lines = SPEC_TEXT.splitlines()
    quoted = yaml.safe_dump(value, default_style='"', width=10_000).removesuffix("\n...\n")
    lines[index] = prefix + tag + quoted.strip()
    path = tmp_path / "spec.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    outputs = load_and_render(path)
    if outputs is None:
        return
    for relative, code in outputs.items():
        language = LANGUAGES[relative.split("/")[0]]
        assert parse_problems(language, code) == [], relative
        if comment_problem(value) == "" or value in DEFAULT_OUTPUTS[relative]:
            continue  # text any comment may hold, or too common to trace
        # Text that is not comment-safe reaches code only inside its own literal.
        assert value not in _outside_literals(language.name, code, value), (relative, value)


@pytest.mark.parametrize("depth", [25, 600])
def test_nesting_is_one_line(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("api: " + "{a: " * depth + "1" + "}" * depth + "\n", encoding="utf-8")
    assert load_and_render(path) is None


FREE_TEXT = {
    # (line as in the spec, the value's prefix): values that may hold any text.
    "site_id": "  site_id: ",
    "separator": "  separator: ",
}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(key=st.sampled_from(sorted(FREE_TEXT)), value=hazard_text)
def test_any_text_where_the_spec_allows_it_stays_one_literal(
    tmp_path: Path, key: str, value: str
) -> None:
    prefix = FREE_TEXT[key]
    lines = SPEC_TEXT.splitlines()
    index = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    quoted = yaml.safe_dump(value, default_style='"', width=10_000).removesuffix("\n...\n")
    lines[index] = prefix + quoted.strip()
    path = tmp_path / "spec.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    outputs = load_and_render(path)
    if outputs is None:
        return  # e.g. a lone surrogate: one line, checked
    spec = load_spec(path, LANGUAGES)
    assert value in (spec.placeholders.site_id, spec.fingerprint.separator)
    for relative, code in outputs.items():
        language = LANGUAGES[relative.split("/")[0]]
        assert parse_problems(language, code) == [], relative
        if language.name == "python":  # black may requote a literal: compare the values
            assert value in _python_strings(code), relative
        else:
            assert language.literal(value) in code, relative
        if comment_problem(value) and value not in DEFAULT_OUTPUTS[relative]:
            assert value not in _outside_literals(language.name, code, value), relative


def _python_strings(code: str) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def _outside_literals(language: str, code: str, value: str) -> str:
    """``code`` without the literals of ``value`` (Python: without any string token)."""
    if language != "python":
        return code.replace(LANGUAGES[language].literal(value), "")
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    return " ".join(t.string for t in tokens if t.type != tokenize.STRING)
