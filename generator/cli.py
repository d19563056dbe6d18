"""The ``nevision-snippets`` command: parse options, call the pipeline, errors in one line."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from generator import __version__
from generator.errors import SnippetsError
from generator.languages import LANGUAGES, every_target, get_language
from generator.paths import DEFAULT_SPEC
from generator.write import stale_files, write_all

if TYPE_CHECKING:
    from generator.render import Generator

#: The longest --delay the stub takes (generator.stub checks it too).
MAX_DELAY_S = 3600.0

PROG = "nevision-snippets"


def _generator(ctx: click.Context) -> Generator:
    from generator.render import Generator

    spec_path: Path = ctx.obj["spec"]
    return Generator.from_path(spec_path)


#: What one file is made from: (language, variant, package) for code, or
#: ("@" + kind, name, None) for a document (generator.documents).
Target = tuple[str, str, "str | None"]


def _document_target(kind: str, name: str) -> Target:
    return ("@" + kind, name, None)


def _produce(
    generator: Generator,
    target: Target,
    site_id: str | None,
    api_key: str | None,
    endpoint: str | None,
) -> str:
    first, second, package = target
    if first.startswith("@"):
        from generator.documents import make_document

        return make_document(generator, first[1:], second, site_id, api_key, endpoint)
    return generator.render(first, second, site_id, api_key, endpoint, package)


def _render(
    ctx: click.Context,
    targets: Sequence[Target],
    site_id: str | None,
    api_key: str | None,
    endpoint: str | None,
) -> list[str]:
    """The text of each target: from the disk cache when all of it is there (see
    generator.cache), else rendered, and kept for next time."""
    from generator import cache

    folder = cache.cache_dir()
    inputs = cache.inputs_digest(ctx.obj["spec"]) if folder is not None else None
    names = []
    if folder is not None and inputs is not None:
        names = [cache.key(inputs, (*target, site_id, api_key, endpoint)) for target in targets]
        texts = [cache.load(folder, name) for name in names]
        if all(text is not None for text in texts):
            return [text for text in texts if text is not None]
    generator = _generator(ctx)
    codes = [_produce(generator, target, site_id, api_key, endpoint) for target in targets]
    if folder is not None and names:
        cache.store(folder, dict(zip(names, codes, strict=True)))
    return codes


def _render_every(
    ctx: click.Context,
    site_id: str | None,
    api_key: str | None,
    endpoint: str | None,
    packages: dict[str, str],
) -> dict[str, str]:
    """Every language and variant, and every document, keyed by its path inside an
    output folder."""
    from generator.documents import DOCUMENTS

    targets: list[Target] = list(every_target(packages))
    paths = [LANGUAGES[name].output_path(variant) for name, variant, _ in targets]
    for (kind, name), path in DOCUMENTS.items():
        targets.append(_document_target(kind, name))
        paths.append(path)
    texts = _render(ctx, targets, site_id, api_key, endpoint)
    return dict(zip(paths, texts, strict=True))


def _emit(ctx: click.Context, text: str, out: Path | None) -> None:
    """Print ``text``, or write it to the file ``out`` (all or nothing)."""
    if out is None:
        click.echo(text, nl=False)
        return
    write_all(out.parent, {out.name: text})
    click.echo(f"wrote {out}", err=True)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--spec",
    "spec_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_SPEC,
    show_default="the project's snippets_spec.yaml",
    help="The API spec that drives every template.",
)
@click.version_option(__version__, prog_name=PROG)
@click.pass_context
def cli(ctx: click.Context, spec_path: Path) -> None:
    """Generate correct nevision error-reporter code for many languages from one spec.

    \b
    Examples:
      nevision-snippets generate --lang kotlin
      nevision-snippets generate --lang python --site-id abc --api-key k123
      nevision-snippets generate --all --out output
      nevision-snippets docs --format docusaurus --out docs/report-errors.mdx
      nevision-snippets schema --for request
      nevision-snippets openapi --out openapi.json
      nevision-snippets check
      nevision-snippets stub --port 8787
      nevision-snippets verify --lang java
    """
    ctx.obj = {"spec": spec_path}


@cli.command(short_help="Print or write reporter code.")
@click.option("--lang", "language", metavar="LANG", help="Language to print (see `list`).")
@click.option(
    "--variant",
    default="snippet",
    show_default=True,
    help="snippet (short, for a docs page) or reporter (production: bounded queue, retries).",
)
@click.option("--site-id", help="Your site id (default: the spec's placeholder).")
@click.option("--api-key", help="Your API key (default: the spec's placeholder).")
@click.option(
    "--endpoint",
    metavar="BASE_URL",
    help="Base URL replacing the spec's, e.g. http://127.0.0.1:8787 (the path stays the spec's).",
)
@click.option(
    "--package",
    metavar="NAME",
    help="Java and Kotlin: put the code in this package, e.g. com.example.errors.",
)
@click.option(
    "--namespace",
    metavar="NAME",
    help="C# and PHP: put the code in this namespace, e.g. Acme.Errors (PHP: Acme\\Errors).",
)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Every language and variant, the docs pages, the schemas and the OpenAPI document "
    "(needs --out).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Write files under DIR/<lang>/<variant>/ (and DIR/docs/, DIR/api/) instead of printing.",
)
@click.pass_context
def generate(
    ctx: click.Context,
    language: str | None,
    variant: str,
    site_id: str | None,
    api_key: str | None,
    endpoint: str | None,
    package: str | None,
    namespace: str | None,
    every: bool,
    out: Path | None,
) -> None:
    """Print one language's reporter code, or write every file the spec makes."""
    if every == (language is not None):
        raise click.UsageError("give either --lang LANG or --all")
    if every and out is None:
        raise click.UsageError("--all writes files: give --out DIR")
    given = {
        option: name
        for option, name in (("--package", package), ("--namespace", namespace))
        if name is not None
    }
    if every:
        files = _render_every(ctx, site_id, api_key, endpoint, given)
    else:
        assert language is not None
        lang = get_language(language)
        for option in given:
            if option != lang.package_option:
                takes = (
                    f"takes {lang.package_option}"
                    if lang.package_option
                    else "code has no package or namespace"
                )
                raise SnippetsError(f"{option}: {language} {takes}")
        chosen = given.get(lang.package_option) if lang.package_option else None
        (code,) = _render(ctx, [(language, variant, chosen)], site_id, api_key, endpoint)
        if out is None:
            _emit(ctx, code, None)
            return
        files = {lang.output_path(variant): code}
    assert out is not None
    write_all(out, files)
    for path in files:
        click.echo(f"wrote {out / path}", err=True)


def _values_options(command: Callable[..., None]) -> Callable[..., None]:
    """--site-id, --api-key and --endpoint, as `generate` takes them."""
    for option in reversed(
        (
            click.option("--site-id", help="Your site id (default: the spec's placeholder)."),
            click.option("--api-key", help="Your API key (default: the spec's placeholder)."),
            click.option(
                "--endpoint",
                metavar="BASE_URL",
                help="Base URL replacing the spec's (the path stays the spec's).",
            ),
        )
    ):
        command = option(command)
    return command


_OUT_FILE = click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Write to FILE instead of printing.",
)


@cli.command(short_help="Print or write the 'report errors from your backend' page.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mkdocs", "docusaurus"]),
    default="mkdocs",
    show_default=True,
    help="mkdocs: MkDocs Material content tabs; docusaurus: MDX with <Tabs>.",
)
@_values_options
@_OUT_FILE
@click.pass_context
def docs(
    ctx: click.Context,
    fmt: str,
    site_id: str | None,
    api_key: str | None,
    endpoint: str | None,
    out: Path | None,
) -> None:
    """Print the docs page, rendered from the spec: endpoint, headers, payload example and
    field table, fingerprint, a cURL command, every language's snippet and reporter in
    tabs, the response contract and the tips.

    \b
    MkDocs Material needs, in mkdocs.yml:
      theme: {name: material, features: [content.tabs.link]}
      markdown_extensions: [tables, admonition, pymdownx.highlight,
        pymdownx.superfences: {preserve_tabs: true}, pymdownx.tabbed: {alternate_style: true}]
    Docusaurus 3 takes the .mdx file as it is; to colour PHP, C#, Java and Ruby add
    themeConfig.prism.additionalLanguages: ['php', 'csharp', 'java', 'ruby'].
    """
    (text,) = _render(ctx, [_document_target("docs", fmt)], site_id, api_key, endpoint)
    _emit(ctx, text, out)


@cli.command(short_help="Print or write the JSON Schema of the request or the response.")
@click.option(
    "--for",
    "kind",
    type=click.Choice(["request", "response"]),
    required=True,
    help="Which body the schema describes.",
)
@_OUT_FILE
@click.pass_context
def schema(ctx: click.Context, kind: str, out: Path | None) -> None:
    """Print the JSON Schema (2020-12) of the ingest request or response, generated from the
    spec. The stub validates every request against the request schema."""
    (text,) = _render(ctx, [_document_target("schema", kind)], None, None, None)
    _emit(ctx, text, out)


@cli.command(short_help="Print or write the OpenAPI 3.1 document of the endpoint.")
@_values_options
@_OUT_FILE
@click.pass_context
def openapi(
    ctx: click.Context,
    site_id: str | None,
    api_key: str | None,
    endpoint: str | None,
    out: Path | None,
) -> None:
    """Print an OpenAPI 3.1 description of the ingest operation: the API-key header
    scheme, the request and response schemas with examples, and x-codeSamples (cURL and
    every language's snippet and reporter) for Redoc, Mintlify, Bump.sh, Zudoku and the
    like."""
    (text,) = _render(ctx, [_document_target("openapi", "3.1")], site_id, api_key, endpoint)
    _emit(ctx, text, out)


@cli.command("list")
@click.pass_context
def list_languages(ctx: click.Context) -> None:
    """Show the languages and their variants."""
    spec = _generator(ctx).spec
    for language in LANGUAGES.values():
        needs = spec.languages[language.name]
        libraries = ", ".join(f"{lib.name} {lib.version}" for lib in needs.libraries)
        click.echo(
            f"{language.name:8} {language.title:7} variants: {', '.join(language.variants)}"
            f"  ({needs.runtime}{'; ' + libraries if libraries else ''})"
        )


@cli.command(short_help="Exit 1 with a diff when output/ is stale.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("output"),
    show_default=True,
    metavar="DIR",
    help="Folder to compare.",
)
@click.pass_context
def check(ctx: click.Context, out: Path) -> None:
    """Exit 1 with a diff when the output folder is not what the spec generates now."""
    folder = out
    expected = _render_every(ctx, None, None, None, {})
    diffs = stale_files(folder, expected)
    if diffs:
        click.echo("".join(diffs), nl=False)
        click.echo(
            f"{PROG}: {folder} is stale ({len(diffs)} file(s)); "
            f"run: {PROG} generate --all --out {folder}",
            err=True,
        )
        ctx.exit(1)
    click.echo(f"{folder} is up to date", err=True)


def _finite(ctx: click.Context, param: click.Parameter, value: float) -> float:
    # FloatRange lets NaN through: every comparison with it is false.
    if not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds")
    return value


@cli.command(short_help="Run a local ingest endpoint for testing.")
@click.option("--port", type=click.IntRange(0, 65535), default=8787, show_default=True)
@click.option(
    "--site",
    "sites",
    multiple=True,
    metavar="SITE_ID:API_KEY",
    help="A site that may send errors (repeatable).  [default: the spec's placeholders]",
)
@click.option(
    "--disabled-site",
    "disabled",
    multiple=True,
    metavar="SITE_ID:API_KEY",
    help="A site whose errors are disabled: answers 'Errors disabled'.",
)
@click.option(
    "--quota", type=click.IntRange(0), help="Errors each site may send before limitReached."
)
@click.option(
    "--delay",
    type=click.FloatRange(0, MAX_DELAY_S),
    default=0.0,
    callback=_finite,
    help="Seconds to wait before answering.",
)
@click.option(
    "--status", type=click.IntRange(100, 599), help="Answer with this HTTP status instead."
)
@click.option(
    "--log",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append every request as a JSON line to this file.",
)
@click.pass_context
def stub(
    ctx: click.Context,
    port: int,
    sites: tuple[str, ...],
    disabled: tuple[str, ...],
    quota: int | None,
    delay: float,
    status: int | None,
    log: Path | None,
) -> None:
    """Run a local stand-in for the ingest endpoint on 127.0.0.1.

    Point generated code at it with `generate --endpoint http://127.0.0.1:PORT`.
    It checks every request against the spec, prints a line per error received,
    and answers as the real endpoint does.
    """
    from generator.stub import Faults, Site, Stub, parse_site

    spec = _generator(ctx).spec
    registry: dict[str, Site] = {}
    try:
        for text in sites or (f"{spec.placeholders.site_id}:{spec.placeholders.api_key}",):
            site_id, key = parse_site(text)
            registry[site_id] = Site(key, quota=quota)
        for text in disabled:
            site_id, key = parse_site(text)
            registry[site_id] = Site(key, enabled=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--site") from None
    try:
        server = Stub(
            spec, registry, port=port, faults=Faults(delay, status), log_path=log, echo=sys.stdout
        )
    except OSError as exc:
        raise SnippetsError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    click.echo(f"stub: listening on {server.base_url}{spec.api.path} (Ctrl-C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stub: stopped")


@cli.command(short_help="Build and run the generated code against the stub.")
@click.option(
    "--lang", "languages", multiple=True, metavar="LANG", help="Only this language (repeatable)."
)
@click.option("--variant", help="Only this variant.")
@click.pass_context
def verify(ctx: click.Context, languages: tuple[str, ...], variant: str | None) -> None:
    """Build every language's code with its real toolchain and run it against the stub.

    Each build uses a driver program that reports a real exception with a hostile
    message; the stub checks what arrives byte for byte. Then the fault cases:
    endpoint down, slower than the timeout, HTTP 500, a reply that is not JSON,
    and "Invalid site". A missing toolchain is a skip with its reason (C# and
    Swift are then only parsed). Prints a table; exits 1 if any check failed.
    """
    from generator import verify as harness

    generator = _generator(ctx)
    for name in languages:
        get_language(name)  # an unknown language is a usage error before any work
    reports = harness.verify(generator, list(languages) or None, variant)
    if not reports:
        raise SnippetsError(f"no language has the variant {variant!r}")
    click.echo(harness.table(reports), nl=False)
    if not all(report.ok for report in reports):
        ctx.exit(1)


def main() -> None:
    """Entry point: every user error is one line on stderr and exit code 2."""
    try:
        # Without standalone mode, click returns ctx.exit()'s code instead of exiting.
        code = cli.main(prog_name=PROG, standalone_mode=False)
    except SnippetsError as exc:
        click.echo(f"{PROG}: error: {exc}", err=True)
        sys.exit(2)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # One line: click lays some messages out over several ("Choose from:\n\t...").
        message = " ".join(exc.format_message().split())
        click.echo(f"{PROG}: error: {message}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo(f"{PROG}: aborted", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
