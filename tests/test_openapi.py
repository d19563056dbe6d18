"""The OpenAPI 3.1 document: valid, built from the schemas, carrying every language's code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from generator.languages import LANGUAGES
from generator.openapi import openapi_document
from generator.render import Generator
from generator.schema import request_schema, response_schema
from tests.support import generator_for, spec_variant


def _operation(document: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path][method.lower()]
    return operation


def test_the_document_validates_and_uses_the_schemas(generator: Generator) -> None:
    spec = generator.spec
    document = openapi_document(generator)
    validate(document)  # raises with the first problem
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": spec.api.base_url}]
    scheme = document["components"]["securitySchemes"]["apiKey"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": spec.api.api_key_header}
    operation = _operation(document, spec.api.path, spec.api.method)
    assert operation["security"] == [{"apiKey": []}]
    media = operation["requestBody"]["content"][spec.api.content_type]
    assert media["schema"] == request_schema(spec, dialect=False)
    for example in media["examples"].values():
        Draft202012Validator(request_schema(spec)).validate(example["value"])
    reply = operation["responses"][str(spec.response.status)]["content"]["application/json"]
    assert reply["schema"] == response_schema(spec, dialect=False)
    for example in reply["examples"].values():
        Draft202012Validator(response_schema(spec)).validate(example["value"])


def test_code_samples_are_the_generated_files(generator: Generator) -> None:
    document = openapi_document(generator)
    samples = _operation(document, generator.spec.api.path, generator.spec.api.method)[
        "x-codeSamples"
    ]
    assert all(set(sample) == {"lang", "label", "source"} for sample in samples)
    by_label = {sample["label"]: sample for sample in samples}
    assert len(by_label) == len(samples), "labels must be distinct"
    assert by_label["cURL"]["source"].startswith("curl --globoff --request POST ")
    expected = 1
    for language in LANGUAGES.values():
        for variant in language.variants:
            sample = by_label[f"{language.title} {variant}"]
            assert sample["lang"] == ("JavaScript" if language.name == "node" else language.title)
            assert sample["source"] == generator.render(language.name, variant)
            expected += 1
    assert len(samples) == expected


def test_the_document_follows_the_spec(tmp_path: Path) -> None:
    path = spec_variant(
        tmp_path,
        ("base_url: https://api.nevision.app", "base_url: https://ingest.example.org"),
        ("api_key_header: x-nevision-api-key", "api_key_header: x-acme-token"),
        ("path: /public/errors/ingest", "path: /v2/errors"),
    )
    document = openapi_document(generator_for(path))
    validate(document)
    assert document["servers"] == [{"url": "https://ingest.example.org"}]
    assert list(document["paths"]) == ["/v2/errors"]
    assert document["components"]["securitySchemes"]["apiKey"]["name"] == "x-acme-token"
    text = str(document)
    assert "x-nevision-api-key" not in text and "api.nevision.app" not in text
