"""The "report errors from your backend" docs page, rendered from the spec.

One template (``templates/docs/page.md.j2``) serves MkDocs Material and Docusaurus
(MDX). Every name and number on the page comes from the spec, the JSON Schema
(:mod:`generator.schema`) or the rendered code; text from the spec reaches the page
only through the filters here, which escape it for Markdown and MDX alike:

- ``|md``: prose. Markdown's and MDX's active characters become numeric character
  references, so spec text cannot open a link, emphasis, HTML, JSX, an expression or a
  directive; an empty ``<span>`` breaks what GFM would turn into a link by itself.
- ``|code``: an inline code span whose fence is longer than any backtick run inside.
- ``|cell``: a code span in a table cell; a value holding ``|`` (which would split the
  cell in GFM, and which Python-Markdown and MDX escape differently) is shown as text.
- ``fence()``: a fenced block longer than any backtick run in the code, indented as
  MkDocs' content tabs need.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from generator.errors import SnippetsError
from generator.languages import LANGUAGES
from generator.literals import Code, shell_literal
from generator.schema import example_request, example_response, request_schema, response_schema

if TYPE_CHECKING:
    from generator.render import Generator, Settings
    from generator.spec import Spec

FORMATS = ("mkdocs", "docusaurus")
#: What a MkDocs Material site needs in mkdocs.yml for the page, as YAML would load it:
#: admonitions, tables, highlighted code, and content tabs that hold fenced code. Without
#: ``preserve_tabs`` Python-Markdown turns tabs in code into spaces (Go is indented with tabs).
MKDOCS_THEME: dict[str, object] = {"name": "material", "features": ["content.tabs.link"]}
MKDOCS_EXTENSIONS: list[str | dict[str, dict[str, object]]] = [
    "tables",
    "admonition",
    "pymdownx.highlight",
    {"pymdownx.superfences": {"preserve_tabs": True}},
    {"pymdownx.tabbed": {"alternate_style": True}},
]
#: Docusaurus' default Prism bundle lacks these; without them the code shows uncoloured.
DOCUSAURUS_PRISM_LANGUAGES = ["php", "csharp", "java", "ruby"]
#: Characters that mean something to Markdown (CommonMark, GFM) or MDX somewhere in a
#: line: escapes, code, emphasis, links, HTML and JSX, expressions, tables,
#: strikethrough, entities, headings, images, directives, math.
_ACTIVE = frozenset("\\`*_{}[]<>|~&$")
#: Characters that start a block when they begin a line (lists, quotes, headings,
#: setext underlines, ordered lists, code indentation).
_BLOCK_START = frozenset("-+=>#*0123456789 \t")


def _reference(char: str) -> str:
    return f"&#{ord(char)};"


def _check_shown(text: str) -> None:
    """Text on the page is one line of printable characters (the spec loader makes sure)."""
    if any(not char.isprintable() for char in text):
        raise SnippetsError(f"{text[:60]!r} holds a line break or control character")


def md_text(value: object) -> Code:
    """Prose for Markdown and MDX: shown exactly as written, never read as markup."""
    text = str(value)
    _check_shown(text)
    if not text:
        return Code("")
    out = [_reference(char) if char in _ACTIVE else char for char in text]
    # Markdown drops spaces at the ends of a paragraph, a cell or a line.
    for index in (0, len(text) - 1):
        if text[index].isspace():
            out[index] = _reference(text[index])
    for index, char in enumerate(text):
        after = text[index + 1 : index + 2]
        # GFM (Docusaurus, not MkDocs) makes a link of "https://...", "www." and "a@b.c"
        # after references are decoded: an element around the ":", "." or "@" splits the
        # text node it searches, and shows nothing of its own.
        autolink = (
            (char == ":" and text[index + 1 : index + 3] == "//")
            or char == "@"
            or (char == "." and text[max(0, index - 3) : index].lower() == "www")
        )
        if autolink:
            out[index] = f"<span>{_reference(char)}</span>"
        # A colon before a name opens a directive (Docusaurus' admonitions, remark-directive).
        elif char == ":" and after and not after.isspace():
            out[index] = _reference(char)
    # At the start of a line: a block marker, or MDX's import and export (ESM).
    if text[0] in _BLOCK_START or text.startswith(("import", "export")):
        out[0] = _reference(text[0])
    return Code("".join(out))


def _longest_run(text: str, char: str) -> int:
    return max((len(run) for run in re.findall(f"{re.escape(char)}+", text)), default=0)


def md_code(value: object) -> Code:
    """An inline code span holding exactly ``value``; text (:func:`md_text`) where a code
    span would not keep it exactly: spaces at either end, which Python-Markdown strips."""
    text = str(value)
    _check_shown(text)
    if text != text.strip() or not text:
        return md_text(text)
    ticks = "`" * (_longest_run(text, "`") + 1)
    # CommonMark strips one space from each end when both are spaces; pad when the
    # content starts or ends with a backtick or a space, so it survives as written.
    pad = " " if text[:1] in ("`", " ") or text[-1:] in ("`", " ") else ""
    return Code(f"{ticks}{pad}{text}{pad}{ticks}")


def md_cell(value: object) -> Code:
    """A code span inside a table cell, or escaped text where a ``|`` would split it."""
    text = str(value)
    return md_text(text) if "|" in text else md_code(text)


def fence(code: str, info: str, indent: int = 0) -> Code:
    """A fenced code block holding ``code`` exactly, every line indented ``indent``."""
    ticks = "`" * max(3, _longest_run(code, "`") + 1)
    body = code if code.endswith("\n") else code + "\n"
    lines = [ticks + info, *body[:-1].split("\n"), ticks]
    prefix = " " * indent
    return Code("\n".join(prefix + line if line else "" for line in lines))


def seconds(ms: int) -> str:
    """Milliseconds as seconds, exactly: ``5``, ``7.5``, ``1234.567``."""
    return format(Decimal(ms).scaleb(-3).normalize(), "f")


def duration(ms: int) -> Code:
    """``5 s``, ``1.5 s`` or ``250 ms``, never rounded."""
    if ms >= 1000:
        return Code(f"{seconds(ms)} s")
    return Code(f"{ms} ms")


def curl_command(spec: Spec, settings: Settings) -> str:
    """A cURL command that sends the spec's example request; every word shell-quoted."""
    body = example_request(spec, settings.site_id)
    url = settings.base_url + spec.api.path
    words = [
        # --globoff: a URL's [ ] and { } are its own, not curl's ranges and sets.
        f"curl --globoff --request {spec.api.method} {shell_literal(url)}",
        f"--header {shell_literal('Content-Type: ' + spec.api.content_type)}",
        f"--header {shell_literal(spec.api.api_key_header + ': ' + settings.api_key)}",
        f"--max-time {seconds(spec.api.timeout_ms)}",
        f"--data-raw {shell_literal(json.dumps(body, indent=2, ensure_ascii=True))}",
    ]
    return " \\\n  ".join(words) + "\n"


def _rows(schema: dict[str, Any], prefix: str = "") -> list[dict[str, Any]]:
    """The table rows of an object schema: name, JSON type, required, meaning; an array of
    objects adds its items' rows as ``name[].field``."""
    rows = []
    required = set(schema.get("required", []))
    for name, prop in schema["properties"].items():
        json_type = prop["type"]
        rows.append(
            {
                "name": prefix + name,
                "type": json_type,
                "required": name in required,
                "meaning": prop["description"],
            }
        )
        items = prop.get("items")
        if json_type == "array" and isinstance(items, dict) and "properties" in items:
            rows.extend(_rows(items, f"{prefix}{name}[]."))
    return rows


def docs_page(
    generator: Generator,
    fmt: str,
    site_id: str | None = None,
    api_key: str | None = None,
    endpoint: str | None = None,
) -> str:
    """The whole page in ``fmt`` (mkdocs or docusaurus); values as ``render`` takes them."""
    from generator.render import make_settings

    if fmt not in FORMATS:
        raise SnippetsError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    spec = generator.spec
    settings = make_settings(spec, site_id, api_key, endpoint)
    request = request_schema(spec)
    response = response_schema(spec)
    example = example_request(spec, settings.site_id)
    tabs = [
        {
            "name": language.name,
            "title": language.title,
            "highlight": language.highlight,
            "needs": spec.languages[language.name],
            "variants": [
                {
                    "name": variant,
                    "title": variant.capitalize(),
                    "code": generator.render(language.name, variant, site_id, api_key, endpoint),
                }
                for variant in language.variants
            ],
        }
        for language in LANGUAGES.values()
    ]
    field_names = {f.source: f.name for f in spec.payload.error_fields}
    template = generator.env.get_template("docs/page.md.j2")
    return template.render(
        mkdocs=fmt == "mkdocs",
        spec=spec,
        api=spec.api,
        payload=spec.payload,
        response=spec.response,
        client=spec.client,
        reporter=spec.reporter,
        sources=spec.sources,
        settings=settings,
        endpoint=Code(settings.base_url + spec.api.path),
        request_rows=_rows(request),
        response_rows=_rows(response),
        example_json=Code(json.dumps(example, indent=2, ensure_ascii=False)),
        example_reply=json.dumps(example_response(spec)),
        curl=Code(curl_command(spec, settings)),
        fingerprint_parts=[field_names.get(part, part) for part in spec.fingerprint.parts],
        fingerprint_example=spec.example_value("fingerprint"),
        type_field=field_names.get("exception_type"),
        fingerprint_field=field_names.get("fingerprint"),
        route_field=field_names.get("route"),
        tabs=tabs,
        fence=fence,
    )
