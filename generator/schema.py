"""JSON Schema (2020-12) of the ingest request and response, generated from the spec.

One contract serves three readers: the stub validates every request against
:func:`request_schema` (through the ``jsonschema`` library), the docs page and the
OpenAPI document embed both schemas, and the tests check payloads with them.
Every keyword comes from the spec: field names, JSON types, which fields are
required, the batch limits, whether unknown fields are taken, the reply's
error values, and each value's meaning.
"""

from __future__ import annotations

import json
from typing import Any

from generator.spec import Spec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
KINDS = ("request", "response")


#: Integers are counts, times and line numbers: never negative, and exact in every JSON
#: reader (IEEE doubles hold integers exactly up to 2**53 - 1).
MAX_SAFE_INTEGER = 2**53 - 1


def _field_schema(spec: Spec, source: str, json_type: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": json_type, "description": spec.sources[source].meaning}
    if json_type == "integer":
        schema.update(minimum=0, maximum=MAX_SAFE_INTEGER)
    return schema


def error_schema(spec: Spec) -> dict[str, Any]:
    """One error object of the request's batch."""
    fields = spec.payload.error_fields
    schema: dict[str, Any] = {
        "type": "object",
        "description": "One error.",
        "required": [f.name for f in fields if f.required],
        "properties": {f.name: _field_schema(spec, f.source, f.type) for f in fields},
    }
    if not spec.payload.unknown_fields:
        schema["additionalProperties"] = False
    return schema


def example_request(spec: Spec, site_id: str | None = None) -> dict[str, Any]:
    """A request of the fewest errors allowed, each holding every field, from the spec's
    examples; for ``site_id`` (default: the spec's placeholder)."""
    payload = spec.payload
    errors = [spec.example_error()] * payload.min_errors
    site = spec.placeholders.site_id if site_id is None else site_id
    return {payload.site_id_field: site, payload.errors_field: errors}


def example_response(spec: Spec) -> dict[str, Any]:
    return {spec.response.accepted_field: spec.payload.min_errors}


def _head(dialect: bool, title: str, description: str) -> dict[str, Any]:
    """``$schema`` (unless embedded), title and description."""
    head: dict[str, Any] = {"$schema": DIALECT} if dialect else {}
    return {**head, "title": title, "description": description}


def request_schema(spec: Spec, dialect: bool = True) -> dict[str, Any]:
    """The request body; ``dialect=False`` leaves out ``$schema`` (for embedding)."""
    payload = spec.payload
    schema = _head(dialect, "Ingest request", f"The body of {spec.api.method} {spec.api.path}.")
    schema.update(
        {
            "type": "object",
            "required": [payload.site_id_field, payload.errors_field],
            "properties": {
                payload.site_id_field: {
                    "type": "string",
                    "description": f"Your site id, from {spec.api.credentials}.",
                },
                payload.errors_field: {
                    "type": "array",
                    "description": (
                        f"The errors, {payload.min_errors} to {payload.max_errors} per request."
                    ),
                    "minItems": payload.min_errors,
                    "maxItems": payload.max_errors,
                    "items": error_schema(spec),
                },
            },
        }
    )
    if not payload.unknown_fields:
        schema["additionalProperties"] = False
    schema["examples"] = [example_request(spec)]
    return schema


def response_schema(spec: Spec, dialect: bool = True) -> dict[str, Any]:
    """The reply, which comes with the spec's status whatever happened."""
    response = spec.response
    meanings = response.meanings
    schema = _head(
        dialect, "Ingest response", f"The reply, always with HTTP status {response.status}."
    )
    schema.update(
        {
            "type": "object",
            "required": [response.accepted_field],
            "properties": {
                response.accepted_field: {
                    "type": "integer",
                    "minimum": 0,
                    "description": meanings.accepted,
                },
                response.error_field: {
                    "type": "string",
                    "description": meanings.error,
                    "oneOf": [
                        {
                            "const": response.errors.invalid_site,
                            "description": meanings.invalid_site,
                        },
                        {
                            "const": response.errors.errors_disabled,
                            "description": meanings.errors_disabled,
                        },
                    ],
                },
                response.limit_reached_field: {
                    "type": "boolean",
                    "description": meanings.limit_reached,
                },
            },
            "examples": [example_response(spec)],
        }
    )
    return schema


def schema_for(spec: Spec, kind: str) -> dict[str, Any]:
    return request_schema(spec) if kind == "request" else response_schema(spec)


def to_json(document: object) -> str:
    """Stable JSON text for a committed file: two-space indent, keys in the order built."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
