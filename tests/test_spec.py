"""Spec validation: every problem is one line naming the file, line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.languages import LANGUAGES
from generator.spec import SpecError, load_spec
from tests.support import spec_variant


def error_for(path: Path) -> str:
    with pytest.raises(SpecError) as caught:
        load_spec(path, LANGUAGES)
    message = str(caught.value)
    assert "\n" not in message
    return message


def line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_project_spec_loads() -> None:
    spec = load_spec(Path("snippets_spec.yaml"), LANGUAGES)
    assert spec.endpoint == "https://api.nevision.app/public/errors/ingest"
    assert spec.api.api_key_header == "x-nevision-api-key"
    assert spec.api.timeout_ms == 5000
    assert (spec.payload.min_errors, spec.payload.max_errors) == (1, 20)
    assert [f.name for f in spec.payload.error_fields] == [
        "type", "message", "stack", "fingerprint", "timestamp", "url", "filename", "lineno"
    ]  # fmt: skip
    assert spec.payload.field_for("timestamp_ms") is not None
    assert spec.fingerprint.parts == ("exception_type", "route")
    assert spec.response.errors.invalid_site == "Invalid site"
    assert spec.response.limit_reached_field == "limitReached"
    assert set(spec.languages) == set(LANGUAGES)
    kotlin = {lib.name: lib.version for lib in spec.languages["kotlin"].libraries}
    assert kotlin["com.squareup.okhttp3:okhttp"].startswith("4.")


@pytest.mark.parametrize(
    ("old", "new", "marker", "expected"),
    [
        ("  timeout_ms: 5000", "  timeout_ms: soon", "timeout_ms: soon",
         "api.timeout_ms: expected an integer, got 'soon'"),
        ("  timeout_ms: 5000", "  timeout_ms: 0", "timeout_ms: 0",
         "api.timeout_ms: must be between 100 and 120000, got 0"),
        ("  api_key_header: x-nevision-api-key", "  api_key_header: x nevision", "api_key_header",
         "api.api_key_header: 'x nevision' is not an HTTP header name"),
        ("  max_errors: 20", "  max_errors: 20\n  batch: 3", "batch: 3",
         "payload.batch: unknown key"),
        ("  base_url: https://api.nevision.app", "  base_url: ftp://x", "base_url",
         "api.base_url: 'ftp://x' must be an http:// or https:// URL with a host"),
        ("source: timestamp_ms\n      type: integer", "source: timestamp_ms\n      type: string  #",
         "type: string  #", "payload.error_fields[4].type: source timestamp_ms is a JSON integer"),
        ("    - name: url\n      source: route", "    - name: url\n      source: referrer",
         "source: referrer", "payload.error_fields[5].source: 'referrer' is not one of"),
        ("  separator: \":\"", "  separator: 3", "separator: 3",
         "fingerprint.separator: expected a string, got '3'; quote it"),
        ("  method: POST", "  method: POST\n  method: PUT", "method: PUT",
         "api.method: duplicate key"),
        ("  errors_field: errors", "  errors_field: [errors]", "errors_field",
         "payload.errors_field: expected a string, got a list"),
        ("  swift:\n    runtime: Swift 5.7+\n    libraries: []\n", "  swift:\n    runtime: x\n"
         "    libraries: []\n  cobol:\n    runtime: y\n    libraries: []\n", "cobol:",
         "languages.cobol: unknown key"),
        ("    example: 42", "    example: \"42\"", "example: \"42\"",
         "sources.lineno.example: expected an integer, got '42'"),
        ("    example: /checkout", "    example: |\n      /a\n      /b", "example: |",
         "sources.route.example: '\\n' is not printable: one line of text"),
        ("  unknown_fields: false", "  unknown_fields: never", "unknown_fields",
         "payload.unknown_fields: expected true or false, got 'never'"),
        ("    meaning: The line in that file, when the language knows it.", "    meaning: \"  \"",
         "meaning: \"  \"", "sources.lineno.meaning: must not be empty"),
        ("  fingerprint:\n    meaning: >-", "  fingerprint:\n    example: x\n    meaning: >-",
         "example: x", "sources.fingerprint.example: unknown key"),
        ("  separator: \":\"", "  separator: \"a\\nb\"", "separator:",
         "fingerprint.separator: must be printable"),
        ("    errors_disabled: Errors disabled", "    errors_disabled: Invalid site",
         "errors_disabled: Invalid site", "response.errors.errors_disabled: 'Invalid site' is "
         "invalid_site too"),
        ("  site_id: YOUR_SITE_ID", "  site_id: \"YOUR\\tSITE\"", "site_id: \"YOUR",
         "placeholders.site_id: 'YOUR\\tSITE' is shown on the docs page"),
        ("    limit_reached: >-", "    limit_hit: >-", "    accepted: How many",
         "response.meanings.limit_reached: missing key"),
    ],
)  # fmt: skip
def test_invalid_values_name_file_line_and_key(
    tmp_path: Path, old: str, new: str, marker: str, expected: str
) -> None:
    path = spec_variant(tmp_path, (old, new))
    message = error_for(path)
    assert message.startswith(f"{path}:{line_of(path, marker)}: ")
    assert expected in message


def test_missing_key_names_its_path_and_parent_line(tmp_path: Path) -> None:
    path = spec_variant(tmp_path, ("  api_key_header: x-nevision-api-key\n", ""))
    assert error_for(path) == f"{path}:7: api.api_key_header: missing key"


def test_missing_language_is_reported(tmp_path: Path) -> None:
    path = spec_variant(tmp_path, ("  swift:\n    runtime: Swift 5.7+\n    libraries: []\n", ""))
    assert error_for(path).endswith(": languages.swift: missing key")


def test_invalid_yaml_gives_the_line(tmp_path: Path) -> None:
    path = spec_variant(tmp_path, ("  method: POST", "  method: [POST"))
    message = error_for(path)
    assert message.startswith(f"{path}:")
    assert "invalid YAML" in message


def test_unreadable_and_empty_specs(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    assert error_for(missing) == f"{missing}: cannot read spec: No such file or directory"
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n", encoding="utf-8")
    assert error_for(empty) == f"{empty}: the spec is empty"


@pytest.mark.parametrize(
    ("old", "new", "marker", "expected"),
    [
        # "$" matched before a final newline: the header went on the wire as "x\n: KEY".
        ("  api_key_header: x-nevision-api-key", '  api_key_header: "x-nevision-api-key\\n"',
         "api_key_header", "is not an HTTP header name"),
        ("  content_type: application/json", '  content_type: "application/json\\n"',
         "content_type", "is not a media type"),
        ("  content_type: application/json", "  content_type: application/jsön",
         "content_type", "is not a media type"),
        ("  path: /public/errors/ingest", '  path: "/public/errors/ingest\\n"', "path:",
         "is not a URL path"),
        ("    - name: url", "    - name: urlé", "name: urlé", "is not a field name"),
        ("    site_id: NEVISION_SITE_ID", '    site_id: "NEVISION_SITE_ID\\n"', "site_id: \"NEV",
         "is not an environment variable name"),
        # Tags do not defeat the type checks, and odd integers are one line, not a traceback.
        ("  timeout_ms: 5000", '  timeout_ms: !!int "5000.5"', "timeout_ms",
         "expected an integer, got '5000.5'"),
        ("  timeout_ms: 5000", '  timeout_ms: !!int "abc"', "timeout_ms",
         "expected an integer, got 'abc'"),
        ("  timeout_ms: 5000", '  timeout_ms: !!int ".inf"', "timeout_ms",
         "expected an integer, got '.inf'"),
        ("  timeout_ms: 5000", "  timeout_ms: " + "9" * 5000, "timeout_ms",
         "must be between 100 and 120000, got '99999"),
        ("      required: true\n    - name: message", '      required: !!bool "maybe"\n'
         "    - name: message", "maybe", "expected true or false, got 'maybe'"),
        # Field names must differ: the site id was silently overwritten by the error list.
        ("  site_id_field: siteId", "  site_id_field: errors", "errors_field",
         "'errors' is site_id_field too"),
        ("  error_field: error", "  error_field: accepted", "error_field: accepted",
         "'accepted' is accepted_field too"),
        # Everything printed in a comment is safe in every language's lexer.
        ("    invalid_site: Invalid site",
         "    invalid_site: 'Invalid site \\u002a/ package p; /\\u002a'",
         "invalid_site", "must not contain a backslash"),
        ("    runtime: Kotlin 1.9+ on the JVM", "    runtime: Kotlin 1.9+ /* on the JVM",
         "runtime: Kotlin", "must not contain '/*'"),
        ("    runtime: Python 3.8+", "    runtime: Python 3.8+ ?> <?php", "runtime: Python",
         "must not contain '?>'"),
        ("    runtime: Python 3.8+", "    runtime: 'Python \"\"\" 3.8+'", "runtime: 'Python",
         "must not contain '\"\"\"'"),
        # Placeholders are checked where they are written, not blamed on --api-key.
        ("  api_key: YOUR_API_KEY", '  api_key: "YOUR API KEY\\r\\nX-Evil: 1"', "api_key: \"YOUR",
         "placeholders.api_key:"),
        ("  site_id: YOUR_SITE_ID", "  site_id: " + "s" * 600, "site_id: sss",
         "at most 512"),
        ("    runtime: Python 3.8+", "    runtime: Python " + "3" * 2000, "runtime: Python",
         "at most 1000"),
    ],
)  # fmt: skip
def test_hostile_spec_values_are_one_line_with_their_place(
    tmp_path: Path, old: str, new: str, marker: str, expected: str
) -> None:
    path = spec_variant(tmp_path, (old, new))
    message = error_for(path)
    assert message.startswith(f"{path}:{line_of(path, marker)}: "), message
    assert expected in message


def test_deep_nesting_is_one_line(tmp_path: Path) -> None:
    for depth in (30, 500, 5000):
        path = tmp_path / f"deep{depth}.yaml"
        path.write_text("a: " + "[" * depth + "]" * depth + "\n", encoding="utf-8")
        assert "nested more than 20 levels deep" in error_for(path)


def test_a_huge_spec_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("flows: [" + "1, " * 2_000_000 + "]\n", encoding="utf-8")
    assert error_for(path) == f"{path}: the spec is larger than 256 KiB"


def test_aliases_are_not_expanded_into_a_blow_up(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 18)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert "a0: unknown key" in error_for(path) or "missing key" in error_for(path)
