"""The files beside the code: the docs page, the JSON Schemas and the OpenAPI document.

Each is named by (kind, name) and has a fixed place inside an output folder, so that
``generate --all`` writes them and ``check`` compares them like the code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.errors import SnippetsError

if TYPE_CHECKING:
    from generator.render import Generator

#: (kind, name) -> the file's place inside an output folder.
DOCUMENTS: dict[tuple[str, str], str] = {
    ("docs", "mkdocs"): "docs/mkdocs/report-errors.md",
    ("docs", "docusaurus"): "docs/docusaurus/report-errors.mdx",
    ("schema", "request"): "api/request.schema.json",
    ("schema", "response"): "api/response.schema.json",
    ("openapi", "3.1"): "api/openapi.json",
}


def make_document(
    generator: Generator,
    kind: str,
    name: str,
    site_id: str | None = None,
    api_key: str | None = None,
    endpoint: str | None = None,
) -> str:
    """The text of one document; the values personalise the docs page and the OpenAPI
    document's code samples as they do ``render``."""
    if (kind, name) not in DOCUMENTS:
        raise SnippetsError(f"no document {kind} {name}")
    if kind == "docs":
        from generator.docs import docs_page

        return docs_page(generator, name, site_id, api_key, endpoint)
    from generator.schema import schema_for, to_json

    if kind == "schema":
        return to_json(schema_for(generator.spec, name))
    from generator.openapi import openapi_document

    return to_json(openapi_document(generator, site_id, api_key, endpoint))


def every_document(generator: Generator) -> dict[str, str]:
    """Every document for the spec's own values, keyed by its place in an output folder."""
    return {path: make_document(generator, kind, name) for (kind, name), path in DOCUMENTS.items()}
