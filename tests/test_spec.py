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
