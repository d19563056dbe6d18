"""The docs page built for real: a MkDocs Material site and a Docusaurus 3 site around it.

Each site is built from ``docs_page`` for the default spec, its HTML is read for every tab
and generated file, and headless Chromium clicks every language tab and, inside it, the
Snippet and Reporter tabs: the code shown must be exactly the generated file. Screenshots
go to each test's ``tmp_path``. A missing tool is a skip with its reason; with
REQUIRE_TOOLCHAINS=1 (CI, after .ci/install-toolchains) it fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import unescape
from pathlib import Path

import pytest

from generator.docs import docs_page
from generator.languages import LANGUAGES
from generator.render import Generator
from tests.docs_site import (
    DOCUSAURUS_TABS,
    MKDOCS_TABS,
    LanguageTab,
    build_docusaurus,
    build_mkdocs,
    chromium,
    click_through,
    read_built_page,
    serve,
)
from tests.support import HOSTILE_PROSE, generator_for, spec_variant

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def languages(generator: Generator) -> list[LanguageTab]:
    """Every language's tab as the page must show it: label, variant labels, exact files."""
    return [
        LanguageTab(
            name,
            language.title,
            {variant.title(): generator.render(name, variant) for variant in language.variants},
        )
        for name, language in LANGUAGES.items()
    ]


#: How each site is built, and how its tabs are marked up.
SITES = {
    "mkdocs": (build_mkdocs, MKDOCS_TABS),
    "docusaurus": (build_docusaurus, DOCUSAURUS_TABS),
}


@pytest.fixture(scope="module")
def built_site(
    generator: Generator, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """The site of a kind around the page for the default spec, built once per module."""
    sites: dict[str, Path] = {}

    def site(kind: str) -> Path:
        if kind not in sites:
            build = SITES[kind][0]
            page = docs_page(generator, kind)
            sites[kind], seconds = build(page, tmp_path_factory.mktemp(kind))
            print(f"{kind} build: {seconds:.1f} s")
        return sites[kind]

    return site


def assert_holds_every_tab_and_file(html: Path, languages: list[LanguageTab]) -> None:
    built = read_built_page(html)
    titles = [language.title for language in languages]
    assert built.tab_lists.count(titles) == 1, built.tab_lists
    variant_lists = [labels for labels in built.tab_lists if labels != titles]
    assert variant_lists == [list(language.variants) for language in languages]
    files = [code for language in languages for code in language.variants.values()]
    # Every generated file is one code block, whole and in tab order.
    assert [block for block in built.code_blocks if block in files] == files


def assert_screenshots(shots: Path, site: str, languages: list[LanguageTab]) -> None:
    names = {f"{site}-page.png"} | {
        f"{site}-{language.name}-{label.lower()}.png"
        for language in languages
        for label in language.variants
    }
    assert {path.name for path in shots.iterdir()} == names
    for name in names:
        assert (shots / name).read_bytes()[:8] == PNG_SIGNATURE, name


@pytest.mark.parametrize("kind", SITES)
def test_the_built_page_holds_every_tab_and_file(
    kind: str, languages: list[LanguageTab], built_site: Callable[[str], Path]
) -> None:
    assert_holds_every_tab_and_file(built_site(kind) / "index.html", languages)


@pytest.mark.parametrize("kind", SITES)
def test_the_tabs_show_the_generated_files_in_chromium(
    kind: str, languages: list[LanguageTab], tmp_path: Path, built_site: Callable[[str], Path]
) -> None:
    markup = SITES[kind][1]
    with chromium() as session, serve(built_site(kind)) as url:
        problems = click_through(session, url, markup, languages, tmp_path)
    print(f"screenshots: {tmp_path}")
    assert problems == []
    assert_screenshots(tmp_path, kind, languages)


def test_a_tab_showing_other_code_or_missing_fails_the_click_through(
    generator: Generator, languages: list[LanguageTab], tmp_path: Path
) -> None:
    """The click-through sees one changed line and a missing tab, and nothing else."""
    page = docs_page(generator, "mkdocs")
    python = languages[0]
    assert python.name == "python"
    changed = next(
        line
        for line in python.variants["Reporter"].splitlines()
        if line.strip() and page.count(line.strip()) == 1 and not {"'", "\\"} & set(line)
    )
    page = page.replace(changed.strip(), changed.strip() + " # changed", 1)
    site, _ = build_mkdocs(page, tmp_path / "site")
    shots = tmp_path / "shots"
    shots.mkdir()
    extra = LanguageTab("cobol", "COBOL", {"Snippet": "DISPLAY 'HI'.\n"})
    with chromium() as session, serve(site) as url:
        problems = click_through(session, url, MKDOCS_TABS, languages, shots)
        missing = click_through(session, url, MKDOCS_TABS, [*languages, extra], shots)
    assert len(problems) == 1, problems
    assert problems[0].startswith("Python > Reporter: shows other code; line "), problems
    assert f"{changed.strip()} # changed" in problems[0]
    assert len(missing) == 1 and missing[0].startswith("expected one tab set labelled ["), missing


def _text(html: str) -> str:
    """What a reader sees of some HTML: tags dropped, references decoded, spaces collapsed."""
    without_tags = re.sub(r"<[^>]*>", " ", re.sub(r"</?span>", "", html))
    return " ".join(unescape(without_tags).split())


@pytest.mark.parametrize("fmt", ["mkdocs", "docusaurus"])
def test_spec_prose_that_looks_like_markup_builds_and_reads_as_written(
    fmt: str, tmp_path: Path
) -> None:
    """A meaning full of Markdown, HTML, JSX and directive syntax: both sites still build
    (MDX compiles it, nothing warns) and show the text as written, with no element made."""
    spec = spec_variant(
        tmp_path,
        (
            "meaning: The line in that file, when the language knows it.",
            f"meaning: {json.dumps(HOSTILE_PROSE)}",
        ),
    )
    page = docs_page(generator_for(spec), fmt)
    site, _ = SITES[fmt][0](page, tmp_path / "site")
    html = (site / "index.html").read_text(encoding="utf-8")
    assert " ".join(HOSTILE_PROSE.split()) in _text(html)
    assert "<script>alert" not in html and "<del>" not in html and 'src="x.png"' not in html
    # No link made of plain text: [link](...), www., an address, a URL.
    assert not re.search(r'<a [^>]*href="(mailto:|[^"]*example)', html)
