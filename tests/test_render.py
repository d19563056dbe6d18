"""The Jinja environment's guarantees, the render API, and the spec driving every language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator import SnippetsError, render
from generator.languages import LANGUAGES, Language
from generator.paths import DEFAULT_SPEC
from generator.render import Generator, make_env
from tests.support import HOSTILE_KEY, HOSTILE_TEXT, PAIR_IDS, PAIRS, generator_for, spec_variant


def write_template(tmp_path: Path, text: str) -> Generator:
    folder = tmp_path / "templates" / "python"
    folder.mkdir(parents=True)
    (folder / "snippet.py.j2").write_text(text, encoding="utf-8")
    return Generator(generator_for().spec, make_env(tmp_path / "templates"))


def test_a_typo_in_a_template_fails_with_its_name_and_line(tmp_path: Path) -> None:
    generator = write_template(tmp_path, "X = 1\nY = {{ api.timout_ms }}\n")
    with pytest.raises(SnippetsError, match=r"^templates/python/snippet.py.j2:2: .*timout_ms"):
        generator.render("python")


def test_a_bare_string_cannot_reach_the_output(tmp_path: Path) -> None:
    generator = write_template(tmp_path, "SITE = {{ site_id }}\n")
    with pytest.raises(SnippetsError, match=r"snippet.py.j2:1: 'YOUR_SITE_ID' reached the output"):
        generator.render("python")


def test_literal_and_number_filters_are_what_prints(tmp_path: Path) -> None:
    generator = write_template(tmp_path, "S = {{ site_id|lit }}\nT = {{ api.timeout_ms }}\n")
    assert generator.render("python", site_id="a\n$") == 'S = "a\\n$"\nT = 5000\n'


@pytest.mark.parametrize(
    "text",
    ["x */ y", "x /* y", "x \\u002a/ y", "x ?> y", 'x """ y', "x\ny", "x\u2028y", "é"],
)
def test_comment_text_refuses_what_some_lexer_reads(tmp_path: Path, text: str) -> None:
    # Java decodes \\uXXXX in comments, Kotlin and Swift nest /*, PHP's ?> ends a // comment.
    generator = write_template(tmp_path, "# {{ value|text }}\n")
    generator.env.globals["value"] = text
    with pytest.raises(SnippetsError, match="cannot go into a comment"):
        generator.render("python")


def test_invalid_python_names_its_template(tmp_path: Path) -> None:
    generator = write_template(tmp_path, "def (:\n")
    with pytest.raises(SnippetsError, match=r"^templates/python/snippet.py.j2 produced invalid"):
        generator.render("python")


def test_render_api_personalises_the_snippet() -> None:
    code = render("python", site_id="site-42", api_key="key-42", endpoint="http://127.0.0.1:9/")
    assert 'SITE_ID = "site-42"' in code
    assert 'API_KEY = "key-42"' in code
    assert 'ENDPOINT = "http://127.0.0.1:9/public/errors/ingest"' in code


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"language": "cobol"}, "unknown language 'cobol'"),
        ({"language": "python", "variant": "nope"}, "python has no variant 'nope'"),
        ({"language": "python", "endpoint": "localhost:8787"}, "--endpoint 'localhost:8787' must"),
        ({"language": "python", "endpoint": "http://h/x?y=1"}, "must have no query"),
        ({"language": "python", "api_key": "a\nb"}, "--api-key must be printable ASCII"),
        ({"language": "python", "api_key": "ключ"}, "--api-key must be printable ASCII"),
        ({"language": "python", "site_id": ""}, "--site-id must not be empty"),
        ({"language": "python", "site_id": "\udcff"}, "--site-id is not valid UTF-8"),
        ({"language": "python", "endpoint": "http://[::1"}, "is not a valid URL"),
        ({"language": "python", "endpoint": "http://host?"}, "must have no query"),
        ({"language": "python", "endpoint": "http://host#"}, "must have no query"),
        ({"language": "python", "site_id": "s" * 65536}, "--site-id is 65536 characters long"),
        ({"language": "python", "site_id": b"bytes"}, "--site-id must be text, got bytes"),
        ({"language": "python", "api_key": b"bytes"}, "--api-key must be text, got bytes"),
        ({"language": "python", "endpoint": b"http://h"}, "--endpoint must be text, got bytes"),
    ],
)
def test_bad_input_is_one_clear_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SnippetsError, match=message.replace("?", r"\?")):
        render(
            kwargs.pop("language"),
            kwargs.pop("variant", "snippet"),
            kwargs.get("site_id"),
            kwargs.get("api_key"),
            kwargs.get("endpoint"),
        )


def test_render_takes_the_spec_as_a_str_path_and_refuses_other_things(tmp_path: Path) -> None:
    assert render("python", spec=str(DEFAULT_SPEC)) == render("python", spec=DEFAULT_SPEC)
    with pytest.raises(SnippetsError, match="spec must be a path, got bytes"):
        render("python", spec=b"snippets_spec.yaml")  # type: ignore[arg-type]
    with pytest.raises(SnippetsError, match="cannot read spec"):
        render("python", spec=str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize(("language", "variant"), PAIRS, ids=PAIR_IDS)
def test_same_input_gives_the_same_bytes(language: Language, variant: str) -> None:
    first = generator_for().render(language.name, variant, HOSTILE_TEXT, HOSTILE_KEY)
    second = generator_for().render(language.name, variant, HOSTILE_TEXT, HOSTILE_KEY)
    assert first == second


@pytest.mark.parametrize(("language", "variant"), PAIRS, ids=PAIR_IDS)
def test_values_reach_the_code_only_as_literals(language: Language, variant: str) -> None:
    code = generator_for().render(
        language.name, variant, HOSTILE_TEXT, HOSTILE_KEY, "http://127.0.0.1:8787"
    )
    if language.formatter is None:  # black may re-quote a literal; Python is run for real instead
        assert language.literal(HOSTILE_TEXT) in code
        assert language.literal(HOSTILE_KEY) in code
    # The snippet holds the whole endpoint; the reporter joins a base URL and the path.
    endpoint = language.literal("http://127.0.0.1:8787/public/errors/ingest")
    assert endpoint in code or language.literal("http://127.0.0.1:8787") in code
    assert HOSTILE_TEXT not in code
    assert "\u2028" not in code and "\0" not in code


# Each change to the spec, and what the changed output of every language must contain.
SPEC_CHANGES = {
    "header": (("api_key_header: x-nevision-api-key", "api_key_header: x-acme-token"),),
    "timeout": (("timeout_ms: 5000", "timeout_ms: 7250"),),
    "batch limit": (("max_errors: 20", "max_errors: 37"),),
    "base url": (("base_url: https://api.nevision.app", "base_url: https://ingest.acme.example"),),
}


def expected_marker(change: str, language: Language) -> str:
    if change == "header":
        return "x-acme-token"  # PHP joins it with ': ' into one literal
    if change == "timeout":
        return "7.25" if language.name in ("python", "swift", "ruby") else "7250"
    if change == "batch limit":
        return "37"
    return "https://ingest.acme.example"  # the reporter adds the spec's path at run time


@pytest.mark.parametrize("change", SPEC_CHANGES)
def test_a_spec_change_reaches_every_language(tmp_path: Path, change: str) -> None:
    before = generator_for().render_all()
    after = generator_for(spec_variant(tmp_path, *SPEC_CHANGES[change])).render_all()
    for language in LANGUAGES.values():
        for variant in language.variants:
            path = language.output_path(variant)
            marker = expected_marker(change, language)
            assert after[path] != before[path], f"{path} ignores the {change}"
            assert marker in after[path], f"{path} lacks {marker!r}"
            assert marker not in before[path]
