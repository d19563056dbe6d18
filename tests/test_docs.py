"""The docs page: every value from the spec, every tab the generated code, escaped markup,
and a cURL command that works."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import markdown
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from generator.docs import FORMATS, MKDOCS_EXTENSIONS, docs_page, md_code, md_text
from generator.languages import LANGUAGES
from generator.literals import shell_literal
from generator.render import Generator
from generator.schema import request_schema
from generator.stub import Site, Stub
from tests.support import (
    HOSTILE_ARG,
    HOSTILE_PROSE,
    cli,
    generator_for,
    require_toolchain,
    spec_variant,
)


def fences(page: str) -> list[tuple[str, str]]:
    """Every fenced block of the page as (info string, content), indentation removed."""
    blocks = []
    pattern = re.compile(r"^( *)(`{3,})([^\n`]*)\n(.*?)^\1\2$", re.MULTILINE | re.DOTALL)
    for match in pattern.finditer(page):
        indent = len(match.group(1))
        lines = match.group(4).split("\n")
        assert all(line[:indent].strip() == "" for line in lines)
        blocks.append((match.group(3), "\n".join(line[indent:] for line in lines)))
    return blocks


def prose(page: str) -> str:
    """The page without its code blocks."""
    return re.sub(r"^( *)(`{3,})[^\n`]*\n.*?^\1\2$", "", page, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_tab_holds_the_generated_code(generator: Generator, fmt: str) -> None:
    page = docs_page(generator, fmt)
    shown = [code for _, code in fences(page)]
    for language in LANGUAGES.values():
        for variant in language.variants:
            code = generator.render(language.name, variant)
            assert shown.count(code) == 1, f"{language.name} {variant} is not on the page once"
    titles = [language.title for language in LANGUAGES.values()]
    if fmt == "mkdocs":
        tabs = re.findall(r'^=== "(.*)"$', page, re.MULTILINE)
        variants = re.findall(r'^    === "(.*)"$', page, re.MULTILINE)
        assert variants == ["Snippet", "Reporter"] * len(titles)
    else:
        tabs = re.findall(r'^<TabItem value="[a-z]+" label="(.*)">$', page, re.MULTILINE)
        tabs = [tab for tab in tabs if tab not in ("Snippet", "Reporter")]
        assert '<Tabs groupId="language" queryString>' in page
    assert [html.unescape(tab) for tab in tabs] == titles


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_payload_example_validates(generator: Generator, fmt: str) -> None:
    (example,) = [code for info, code in fences(docs_page(generator, fmt)) if info == "json"]
    Draft202012Validator(request_schema(generator.spec)).validate(json.loads(example))


def test_the_page_follows_the_spec(tmp_path: Path) -> None:
    """No number or name on the page is typed by hand: change them in the spec, and
    neither the old values nor anything else stays behind."""
    path = spec_variant(
        tmp_path,
        ("timeout_ms: 5000", "timeout_ms: 7500"),
        ("max_errors: 20", "max_errors: 13"),
        ("api_key_header: x-nevision-api-key", "api_key_header: x-acme-token"),
        ("base_url: https://api.nevision.app", "base_url: https://ingest.example.org"),
        ("site_id: YOUR_SITE_ID", "site_id: MY_SITE"),
        ("api_key: YOUR_API_KEY", "api_key: MY_KEY"),
        ("queue_size: 1000", "queue_size: 333"),
        ("flush_timeout_ms: 2000", "flush_timeout_ms: 1250"),
        ("min_errors: 1", "min_errors: 2"),
        ("max_retry_after_ms: 60000", "max_retry_after_ms: 45000"),
        ("limit_reached_cooldown_ms: 60000", "limit_reached_cooldown_ms: 1234567"),
    )
    for fmt in FORMATS:
        page = docs_page(generator_for(path), fmt)
        for old in ("x-nevision-api-key", "api.nevision.app", "YOUR_SITE_ID", "YOUR_API_KEY"):
            assert old not in page, f"{old} is still on the {fmt} page"
        text = prose(page)
        for old in (r"(?<![\d.])(20|1000)\b", r"(?<![\d.])(5|2|60) s\b", r"\b1 to\b"):
            assert not re.search(old, text), f"{old} is still on the {fmt} page"
        for new in (
            "7.5 s",
            "at most 13 errors per request",
            "`x-acme-token`",
            "`https://ingest.example.org/public/errors/ingest`",
            "`MY_SITE`",
            "`MY_KEY`",
            "at most 333 reports",
            "at most 1.25 s",
            "2 to 13 errors",
            '`{"accepted": 2}` means the errors were stored',
            "pauses for 1234.567 s",
            "at most 45 s",
        ):
            assert new in text, f"{new!r} is not on the {fmt} page"
        curl = next(code for info, code in fences(page) if info == "sh")
        assert "--max-time 7.5" in curl and "'x-acme-token: MY_KEY'" in curl
        (example,) = [code for info, code in fences(page) if info == "json"]
        assert len(json.loads(example)["errors"]) == 2


def _html(page: str) -> str:
    """The page as MkDocs would turn it into HTML, with the extensions it needs."""
    names = [e if isinstance(e, str) else next(iter(e)) for e in MKDOCS_EXTENSIONS]
    configs = {k: v for e in MKDOCS_EXTENSIONS if isinstance(e, dict) for k, v in e.items()}
    return str(markdown.markdown(page, extensions=names, extension_configs=configs))


def test_spec_text_is_shown_as_written_never_as_markup(tmp_path: Path) -> None:
    path = spec_variant(
        tmp_path,
        (
            "meaning: The line in that file, when the language knows it.",
            f"meaning: {json.dumps(HOSTILE_PROSE)}",
        ),
        (
            "credentials: your site's Settings page in the nevision dashboard, under API",
            f"credentials: {json.dumps('1. ' + HOSTILE_PROSE)}",
        ),
    )
    page = docs_page(generator_for(path), "mkdocs")
    rendered = _html(page)
    assert "<script>" not in rendered and 'href="http://evil.example"' not in rendered
    assert "<ol>" not in rendered  # "1. " did not start a list
    # The table still has four cells per row, the hostile meaning in the last one.
    row = re.search(r"<tr>\s*<td><code>errors\[\]\.lineno</code></td>(.*?)</tr>", rendered, re.S)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    assert len(cells) == 3
    assert html.unescape(re.sub(r"</?span>", "", cells[2])) == HOSTILE_PROSE


@settings(max_examples=200, deadline=None)
@given(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1)
)
def test_md_text_round_trips_through_markdown(text: str) -> None:
    if not text.isprintable():
        return  # md_text refuses what cannot be shown; the spec loader refuses it first
    rendered = markdown.markdown("Text: " + md_text(text), extensions=["tables"])
    assert rendered.startswith("<p>Text: ") and rendered.endswith("</p>")
    inner = rendered[len("<p>Text: ") : -len("</p>")]
    assert re.sub(r"</?span>", "", inner) == re.sub(r"<[^>]*>", "", inner), "an element was made"
    assert html.unescape(re.sub(r"</?span>", "", inner)) == text


@settings(max_examples=100, deadline=None)
@given(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1)
)
def test_md_code_round_trips_through_markdown(text: str) -> None:
    if not text.isprintable():
        return
    rendered = markdown.markdown("Code: " + md_code(text) + ".")
    match = re.fullmatch(r"<p>Code: (<code>)?(.*?)(</code>)?\.</p>", rendered, re.S)
    assert match is not None, rendered
    assert html.unescape(match.group(2)) == text


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_characters="\0", exclude_categories=["Cs"])))
def test_shell_literal_round_trips_through_sh(text: str) -> None:
    result = subprocess.run(
        ["sh", "-c", "printf %s " + shell_literal(text)], capture_output=True, timeout=10
    )
    assert result.returncode == 0
    assert result.stdout == text.encode("utf-8")


def test_shell_literal_refuses_nul() -> None:
    with pytest.raises(ValueError, match="NUL"):
        shell_literal("a\0b")


def test_the_curl_command_on_the_page_is_accepted(generator: Generator) -> None:
    if shutil.which("curl") is None:
        require_toolchain("curl", "not on PATH; run .ci/install-toolchains")
    spec = generator.spec
    site_id = "site 'it's' $(touch /tmp/x) `id` " + "".join(
        c for c in HOSTILE_ARG if c.isprintable()
    )
    key = "k'e\"y$(id)`id`"
    with Stub(spec, {site_id: Site(key)}) as stub:
        page = docs_page(generator, "docusaurus", site_id, key, stub.base_url)
        (curl,) = [code for info, code in fences(page) if info == "sh"]
        result = subprocess.run(["sh", "-c", curl], capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {"accepted": 1}
        (request,) = stub.received
    assert request.problems == []
    assert request.json[spec.payload.site_id_field] == site_id
    assert request.json[spec.payload.errors_field] == [spec.example_error()]


def test_docs_schema_and_openapi_commands(tmp_path: Path) -> None:
    out = tmp_path / "page.mdx"
    result = cli("docs", "--format", "docusaurus", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8") == docs_page(generator_for(), "docusaurus")
    printed = cli("schema", "--for", "response")
    assert printed.returncode == 0 and json.loads(printed.stdout)["title"] == "Ingest response"
    assert json.loads(cli("openapi").stdout)["openapi"] == "3.1.0"
    for args, problem in (
        (("docs", "--format", "html"), "'html' is not one of"),
        (("schema",), "Missing option '--for'"),
        (("docs", "--endpoint", "ftp://x"), "--endpoint"),
        (("openapi", "--site-id", ""), "--site-id must not be empty"),
    ):
        failed = cli(*args, "--out", str(tmp_path / "nothing.txt"))
        assert failed.returncode == 2, args
        assert problem in failed.stderr and len(failed.stderr.splitlines()) == 1, failed.stderr
        assert not (tmp_path / "nothing.txt").exists()
    for command in ("docs", "schema", "openapi"):
        assert cli(command, "--help").returncode == 0


def test_the_readme_gives_the_mkdocs_configuration_the_tests_build_with() -> None:
    import yaml

    from generator.docs import MKDOCS_THEME
    from tests.support import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", readme, re.S)
    assert block is not None
    text = "\n".join(line[2:] for line in block.group(1).splitlines())
    assert yaml.safe_load(text) == {"theme": MKDOCS_THEME, "markdown_extensions": MKDOCS_EXTENSIONS}
