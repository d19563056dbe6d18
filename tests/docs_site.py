"""The generated docs page built into real sites and clicked through in headless Chromium.

MkDocs Material is built with ``mkdocs build --strict`` from the ``test`` extra; Docusaurus
comes from ``.ci/install-toolchains`` (npm, under ``$NEVISION_TOOLS/docusaurus``); Chromium is
Debian's. A site is served from a folder on 127.0.0.1 and every request the browser makes
elsewhere is refused and recorded, so a page that reaches for the network fails its test.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

import yaml

from generator.docs import DOCUSAURUS_PRISM_LANGUAGES, MKDOCS_EXTENSIONS, MKDOCS_THEME
from tests.support import require_toolchain

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
#: How Chromium runs here as root: headless, no sandbox, no GPU, and no traffic of its own.
#: Every host name resolves to nothing, so only an address literal (127.0.0.1) can be reached.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
TOOLS = Path(os.environ.get("NEVISION_TOOLS", Path.home() / ".cache" / "nevision-snippets"))
DOCUSAURUS_HOME = TOOLS / "docusaurus"
#: A click or a wait that takes longer than this is a tab that cannot be used.
CLICK_TIMEOUT_MS = 15_000
#: Loading the page and its script taking over, generous on a busy two-core machine.
LOAD_TIMEOUT_MS = 60_000

#: The site around the page: what `docs --help` and the README tell a user to configure,
#: and nothing that fetches (no web fonts).
MKDOCS_CONFIG: dict[str, Any] = {
    "site_name": "nevision docs-site test",
    "theme": {**MKDOCS_THEME, "font": False},
    "markdown_extensions": MKDOCS_EXTENSIONS,
    "plugins": ["search"],
}

DOCUSAURUS_CONFIG = """\
// Docs only: the generated page is the site's home; no blog, no pages, nothing fetched.
module.exports = {
  title: 'nevision docs-site test',
  url: 'http://127.0.0.1',
  baseUrl: '/',
  onBrokenLinks: 'throw',
  markdown: {hooks: {onBrokenMarkdownLinks: 'throw'}},
  presets: [
    [
      'classic',
      {
        docs: {routeBasePath: '/'},
        blog: false,
        pages: false,
      },
    ],
  ],
  themeConfig: {
    prism: {additionalLanguages: PRISM_LANGUAGES},
  },
};
"""


def _run(
    command: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> tuple[str, float]:
    """Run ``command``; it must exit 0. Returns its output and how long it took, in seconds."""
    start = time.monotonic()
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )
    elapsed = time.monotonic() - start
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}\n{output}"
    return output, elapsed


def build_mkdocs(page: str, root: Path) -> tuple[Path, float]:
    """Build a MkDocs Material site whose only page is ``page``, strictly.

    Returns the built site's folder and the build's duration in seconds.
    """
    if find_spec("material") is None or find_spec("mkdocs") is None:
        require_toolchain("mkdocs-material", "not installed; pip install -e '.[test]'")
    docs = root / "docs"
    docs.mkdir(parents=True)
    (docs / "index.md").write_text(page, encoding="utf-8")
    config = root / "mkdocs.yml"
    config.write_text(yaml.safe_dump(MKDOCS_CONFIG, sort_keys=False), encoding="utf-8")
    site = root / "site"
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(config)]
    _, elapsed = _run([*command, "-d", str(site)], cwd=root, timeout=300)
    return site, elapsed


def build_docusaurus(page: str, root: Path) -> tuple[Path, float]:
    """Build a Docusaurus 3 site whose only doc, served at ``/``, is the MDX ``page``.

    The build must exit 0 and warn of nothing. Returns the built site's folder and the
    build's duration in seconds.
    """
    node = shutil.which("node")
    binary = DOCUSAURUS_HOME / "node_modules" / ".bin" / "docusaurus"
    if node is None:
        require_toolchain("node", "not on PATH")
    if not binary.exists():
        require_toolchain("docusaurus", f"{binary} is missing; run .ci/install-toolchains")
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "index.mdx").write_text(page, encoding="utf-8")
    config = DOCUSAURUS_CONFIG.replace("PRISM_LANGUAGES", json.dumps(DOCUSAURUS_PRISM_LANGUAGES))
    (root / "docusaurus.config.js").write_text(config, encoding="utf-8")
    (root / "package.json").write_text('{"name": "docs-site-test", "private": true}\n')
    (root / "node_modules").symlink_to(DOCUSAURUS_HOME / "node_modules", target_is_directory=True)
    env = {
        **os.environ,
        # No look-up of a newer version on npm, no stale-data warning, and no webpack cache
        # written into the shared node_modules: every build is a cold one.
        "NO_UPDATE_NOTIFIER": "1",
        "BROWSERSLIST_IGNORE_OLD_DATA": "1",
        "DOCUSAURUS_NO_PERSISTENT_CACHE": "1",
    }
    site = root / "build"
    command = [node, str(binary), "build", "--no-minify", "--out-dir", str(site), str(root)]
    output, elapsed = _run(command, cwd=root, timeout=1200, env=env)
    # As strict as `mkdocs build --strict`: a warning (an MDX or config problem) fails.
    assert "[WARNING]" not in output, output
    return site, elapsed


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Browser:
    """One headless Chromium page; ``blocked`` lists what it tried to fetch beyond 127.0.0.1."""

    page: Page
    blocked: list[str] = field(default_factory=list)


@contextmanager
def chromium(viewport_width: int = 1280) -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright, in a fresh profile, reaching 127.0.0.1 only."""
    try:
        from playwright.sync_api import Route, sync_playwright
    except ImportError as error:
        require_toolchain("playwright", f"not installed ({error}); pip install -e '.[test]'")
    if not CHROMIUM.exists():
        require_toolchain("chromium", f"{CHROMIUM} is missing; run .ci/install-toolchains")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            context = browser.new_context(viewport={"width": viewport_width, "height": 900})
            session = Browser(page=context.new_page())

            def guard(route: Route) -> None:
                url = urlparse(route.request.url)
                if url.scheme in ("data", "blob") or url.hostname == "127.0.0.1":
                    route.continue_()
                else:
                    session.blocked.append(route.request.url)
                    route.abort("blockedbyclient")

            context.route("**/*", guard)
            context.set_default_timeout(CLICK_TIMEOUT_MS)
            context.set_default_navigation_timeout(LOAD_TIMEOUT_MS)
            yield session
        finally:
            browser.close()


@dataclass(frozen=True)
class TabMarkup:
    """How a site's theme marks up a set of tabs."""

    name: str
    #: A set of tabs (CSS).
    tab_set: str
    #: A set's own tab labels, relative to the set (nested sets' labels excluded).
    labels: str
    #: Query parameters a selected language and variant write into the URL, if any.
    query: tuple[str, str] | None = None
    #: Where a code block is drawn one element per line (CSS, relative to ``code``), each
    #: line's text joined by newlines is the shown text; otherwise it is the block's innerText.
    code_line: str | None = None
    #: What is on the page once its script has taken over the tabs (CSS), if it is not at load.
    ready: str | None = None


MKDOCS_TABS = TabMarkup("mkdocs", ".tabbed-set", ":scope > .tabbed-labels > label")
DOCUSAURUS_TABS = TabMarkup(
    "docusaurus",
    ".tabs-container",
    ":scope > ul[role=tablist] > li[role=tab]",
    query=("language", "variant"),
    # Prism draws each line as <div class="token-line">…<br></div>, and drops the last newline.
    code_line=":scope > .token-line",
    # React hydrates after the load event; a click before it would change nothing.
    ready="html[data-has-hydrated=true]",
)


@dataclass(frozen=True)
class LanguageTab:
    """What one language's tab must show: its label, and each variant tab's label and code."""

    name: str
    title: str
    variants: dict[str, str]  # tab label ("Snippet") -> the exact generated file


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def click_through(
    session: Browser, url: str, markup: TabMarkup, languages: list[LanguageTab], shots: Path
) -> list[str]:
    """Open ``url``, click every language tab and every variant tab inside it, and compare.

    After each click exactly one code block in the language tabs must be visible, and its
    shown text must be exactly the generated file. A language shows on arrival the variant
    chosen last (the first one at the start): variant tabs are linked across languages. Where
    the site writes the choice into the URL, the URL must say it. Each state is saved as a
    screenshot in ``shots``. Returns what went wrong, empty when all is right.
    """
    page = session.page
    page.goto(url, wait_until="load")
    if markup.ready is not None:
        page.locator(markup.ready).wait_for(state="attached", timeout=LOAD_TIMEOUT_MS)
    titles = [language.title for language in languages]
    sets = page.locator(markup.tab_set)
    found = [[t.strip() for t in s.locator(markup.labels).all_text_contents()] for s in sets.all()]
    matching = [i for i, labels in enumerate(found) if labels == titles]
    if len(matching) != 1:
        return [f"expected one tab set labelled {titles}, found sets labelled {found}"]
    outer = sets.nth(matching[0])
    problems: list[str] = []
    chosen: str | None = None  # the variant label clicked last
    variant_moved = False  # whether a click has changed the variant shown
    for index, language in enumerate(languages):
        if not _click(outer.locator(markup.labels).nth(index), language.title, problems):
            continue
        inner_sets = outer.locator(markup.tab_set).filter(visible=True)
        if inner_sets.count() != 1:
            problems.append(f"{language.title}: {inner_sets.count()} visible variant tab sets")
            continue
        inner = inner_sets.first
        labels = [t.strip() for t in inner.locator(markup.labels).all_text_contents()]
        if labels != list(language.variants):
            problems.append(
                f"{language.title}: variant tabs {labels}, not {list(language.variants)}"
            )
            continue
        arrival = chosen or labels[0]
        shown = _visible_code(outer, markup)
        if shown != language.variants[arrival]:
            showing = [label for label, code in language.variants.items() if code == shown]
            what = repr(showing[0]) if showing else "other code"
            problems.append(f"{language.title}: shows {what} on arrival, not {arrival!r}")
        for position, (label, code) in enumerate(language.variants.items()):
            where = f"{language.title} > {label}"
            if not _click(inner.locator(markup.labels).nth(position), where, problems):
                continue
            variant_moved = variant_moved or (chosen is not None and label != chosen)
            chosen = label
            shown = _visible_code(outer, markup)
            if shown is None:
                problems.append(f"{where}: not exactly one visible code block")
            elif shown != code:
                problems.append(f"{where}: shows other code; {_first_difference(shown, code)}")
            if markup.query is not None:
                language_key, variant_key = markup.query
                wanted = {language_key: [language.name]} if index > 0 else {}
                if variant_moved:
                    wanted[variant_key] = [label.lower()]
                query = parse_qs(urlparse(page.url).query)
                said = {key: query.get(key) for key in wanted}
                if said != wanted:
                    problems.append(f"{where}: the URL says {said}, not {wanted}")
            page.screenshot(path=shots / f"{markup.name}-{language.name}-{_slug(label)}.png")
    page.screenshot(path=shots / f"{markup.name}-page.png", full_page=True)
    if session.blocked:
        problems.append(f"requests beyond 127.0.0.1: {session.blocked}")
    return problems


def _click(tab: Locator, where: str, problems: list[str]) -> bool:
    """Click ``tab`` as a person would; a tab that cannot be clicked is a problem."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        tab.click()
    except PlaywrightError as error:
        text = str(error).strip()
        problems.append(f"{where}: tab not clickable: {text.splitlines()[0] if text else error!r}")
        return False
    return True


def _visible_code(outer: Locator, markup: TabMarkup) -> str | None:
    """The rendered text of the one visible code block under ``outer``, or None."""
    blocks = outer.locator("pre code").filter(visible=True)
    if blocks.count() != 1:
        return None
    if markup.code_line is None:
        return blocks.first.inner_text()
    lines = blocks.first.locator(markup.code_line).all_text_contents()
    return "\n".join(lines) + "\n"


def _first_difference(shown: str, expected: str) -> str:
    shown_lines, expected_lines = shown.split("\n"), expected.split("\n")
    for number, (got, want) in enumerate(zip(shown_lines, expected_lines, strict=False), 1):
        if got != want:
            return f"line {number}: shown {got!r}, generated {want!r}"
    return f"shown {len(shown_lines)} lines, generated {len(expected_lines)}"


@dataclass
class BuiltPage:
    """What a built page's HTML holds: each tab set's labels and each code block's text."""

    tab_lists: list[list[str]] = field(default_factory=list)
    code_blocks: list[str] = field(default_factory=list)


class _PageReader(HTMLParser):
    """Reads MkDocs Material's and Docusaurus's tab labels and code blocks from HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = BuiltPage()
        self._labels: tuple[str, int] | None = None  # open label container: tag, depth
        self._label: tuple[str, list[str]] | None = None  # open label: tag, text
        self._pre = 0
        self._code: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if self._labels is not None:
            container, depth = self._labels
            self._labels = (container, depth + (tag == container))
            if tag == "label" or attributes.get("role") == "tab":
                self._label = (tag, [])
        elif "tabbed-labels" in classes or attributes.get("role") == "tablist":
            self._labels = (tag, 1)
            self.page.tab_lists.append([])
        if tag == "pre":
            self._pre += 1
        elif tag == "code" and self._pre:
            self._code = []
        elif tag == "br" and self._code is not None:
            self._code.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._label is not None and tag == self._label[0]:
            self.page.tab_lists[-1].append("".join(self._label[1]).strip())
            self._label = None
        if self._labels is not None and tag == self._labels[0]:
            container, depth = self._labels
            self._labels = (container, depth - 1) if depth > 1 else None
        if tag == "pre" and self._pre:
            self._pre -= 1
        elif tag == "code" and self._code is not None:
            self.page.code_blocks.append("".join(self._code))
            self._code = None

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self._label[1].append(data)
        if self._code is not None:
            self._code.append(data)


def read_built_page(html: Path) -> BuiltPage:
    """The tab labels and code blocks of a built page, as its HTML holds them."""
    reader = _PageReader()
    reader.feed(html.read_text(encoding="utf-8"))
    reader.close()
    return reader.page
