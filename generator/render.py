"""The one Jinja environment, and the pipeline from spec to finished source text."""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator.errors import SnippetsError
from generator.languages import LANGUAGES, Language, every_target, get_language
from generator.literals import Code, comment_problem
from generator.paths import DEFAULT_SPEC, TEMPLATES_DIR
from generator.values import check_api_key, check_base_url, check_site_id

if TYPE_CHECKING:
    import jinja2

    from generator.spec import Spec


class _UnescapedValue(Exception):
    pass


def _finalizer(undefined: type) -> Callable[[object], object]:
    """Jinja's ``finalize``: let only finished code and numbers into the output.

    A bare string from the spec or the command line must go through ``|lit``
    (a string literal) or ``|text`` (comment text); forgetting that is an error.
    """

    def finalize(value: object) -> object:
        if isinstance(value, Code):
            return value
        if isinstance(value, undefined):
            str(value)  # StrictUndefined raises here, naming the missing variable
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise _UnescapedValue(
            f"{value!r} reached the output without a filter; "
            "use |lit for code or |text for comments"
        )

    return finalize


def _literal_filter(context: jinja2.runtime.Context, value: object) -> Code:
    if not isinstance(value, str):
        raise _UnescapedValue(f"|lit takes a string, got {value!r}")
    language: Language = context["language"]
    return language.literal(value)


def _ident_filter(context: jinja2.runtime.Context, value: object) -> Code:
    language: Language = context["language"]
    return language.ident(str(value))


def _text_filter(value: object) -> Code:
    """Plain text for a comment: safe in every target language's lexer."""
    text = str(value)
    problem = comment_problem(text)
    if problem:
        raise _UnescapedValue(f"{text!r} cannot go into a comment: it {problem}")
    return Code(text)


def make_env(templates_dir: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """The Jinja environment used by the generator and by its tests."""
    import jinja2  # imported when rendering: a run served from the cache never needs it

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_finalizer(jinja2.Undefined),
    )
    env.filters["lit"] = jinja2.pass_context(_literal_filter)
    env.filters["text"] = _text_filter
    env.filters["ident"] = jinja2.pass_context(_ident_filter)
    from generator import docs  # the docs page's filters: Markdown and MDX escapes

    env.filters.update(md=docs.md_text, code=docs.md_code, cell=docs.md_cell)
    env.filters["duration"] = docs.duration
    return env


@dataclass(frozen=True)
class Settings:
    """The values a user personalises a snippet with."""

    site_id: str
    api_key: str
    base_url: str


def _text_value(option: str, value: object) -> str | None:
    """A caller's value: None (the default) or a ``str`` of valid Unicode text."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SnippetsError(f"{option} must be text, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SnippetsError(f"{option} is not valid UTF-8 text") from None
    return value


def make_settings(
    spec: Spec,
    site_id: str | None = None,
    api_key: str | None = None,
    endpoint: str | None = None,
) -> Settings:
    """Merge user values over the spec's placeholders, rejecting unusable ones.

    The spec's own values were checked when it loaded; these are the caller's.
    """
    site_id = _text_value("--site-id", site_id)
    api_key = _text_value("--api-key", api_key)
    endpoint = _text_value("--endpoint", endpoint)
    for option, value, check in (
        ("--site-id", site_id, check_site_id),
        ("--api-key", api_key, check_api_key),
    ):
        problem = None if value is None else check(value)
        if problem:
            raise SnippetsError(f"{option} {problem}")
    base_url = spec.api.base_url if endpoint is None else endpoint.rstrip("/")
    if endpoint is not None:
        problem = check_base_url(base_url)
        if problem:
            raise SnippetsError(f"--endpoint {base_url[:80]!r} {problem}")
    return Settings(
        site_id=spec.placeholders.site_id if site_id is None else site_id,
        api_key=spec.placeholders.api_key if api_key is None else api_key,
        base_url=base_url,
    )


def _template_line(exc: BaseException) -> str:
    """The ``:line`` of the template frame an exception came from, if any."""
    line = getattr(exc, "lineno", None)
    if line is None:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.endswith(".j2"):
                line = frame.lineno
                break
    return f":{line}" if line else ""


#: Two sets of stand-ins for a caller's values, of different lengths, found nowhere else
#: in any template; short, so that no formatter lays out the lines they stand on as it
#: would a longer line. They bypass the checks of real values.
_STAND_INS = (
    Settings(site_id="\x1es\x1e", api_key="\x1ek\x1e", base_url="\x1eb\x1e"),
    Settings(site_id="\x1esite\x1e", api_key="\x1ekey-key\x1e", base_url="\x1ebase-url\x1e"),
)


#: Skeletons kept per generator: every language and variant, and a few packages each.
_MAX_SKELETONS = 256


@dataclass(frozen=True)
class Skeleton:
    """A rendered, formatted file with holes where the caller's values go."""

    language: Language
    #: The text around the holes: one part more than there are holes.
    parts: tuple[str, ...]
    #: Which value fills each hole: site_id, api_key, base_url or endpoint.
    holes: tuple[str, ...]
    #: For a formatted language: each line that has holes, as (its length without
    #: them, the holes on it). A filled line longer than the formatter's limit could
    #: be laid out otherwise, so such a fill is refused.
    lines: tuple[tuple[int, tuple[str, ...]], ...]
    #: The values this file prints.
    names: frozenset[str]

    @classmethod
    def find(cls, language: Language, code: str, values: dict[str, str]) -> Skeleton | None:
        literals = {name: str(language.literal(value)) for name, value in values.items()}
        places = sorted(
            (index, name)
            for name, literal in literals.items()
            for index in _occurrences(code, literal)
        )
        parts, holes, start = [], [], 0
        for index, name in places:
            if index < start:
                return None  # overlapping stand-ins: no fast path
            parts.append(code[start:index])
            holes.append(name)
            start = index + len(literals[name])
        parts.append(code[start:])
        lines: dict[int, list[str]] = {}
        line = 0
        for part, name in zip(parts, holes, strict=False):  # parts[i] comes before holes[i]
            line += part.count("\n")
            lines.setdefault(line, []).append(name)
        code_lines = code.split("\n")
        rows = tuple(
            (len(code_lines[line]) - sum(len(literals[n]) for n in names), tuple(names))
            for line, names in sorted(lines.items())
        )
        return cls(language, tuple(parts), tuple(holes), rows, frozenset(holes))

    def fill(self, values: dict[str, str]) -> str | None:
        """The file with ``values`` in place; None where a formatter might disagree."""
        language = self.language
        literals = {name: str(language.literal(values[name])) for name in self.names}
        if language.line_length is not None:
            if any("\\" in literal for literal in literals.values()):
                return None  # a formatter may change quotes or escapes
            for fixed, names in self.lines:
                if fixed + sum(len(literals[n]) for n in names) > language.line_length:
                    return None
        out = [self.parts[0]]
        for name, part in zip(self.holes, self.parts[1:], strict=True):
            out.append(literals[name])
            out.append(part)
        return "".join(out)


def _occurrences(text: str, needle: str) -> list[int]:
    found, start = [], text.find(needle)
    while start != -1:
        found.append(start)
        start = text.find(needle, start + len(needle))
    return found


class Generator:
    """Renders every language and variant from one loaded spec."""

    def __init__(self, spec: Spec, env: jinja2.Environment | None = None) -> None:
        self.spec = spec
        self.env = env or make_env()
        self._skeletons: dict[tuple[str, str, str | None], Skeleton | None] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_path(cls, path: Path = DEFAULT_SPEC) -> Generator:
        from generator.spec import load_spec

        return cls(load_spec(path, LANGUAGES))

    def context(
        self, language: Language, variant: str, settings: Settings, package: str | None = None
    ) -> dict[str, Any]:
        spec = self.spec
        return {
            "language": language,
            "variant": variant,
            "package": language.package(package),
            "endpoint": settings.base_url + spec.api.path,
            "base_url": settings.base_url,
            "site_id": settings.site_id,
            "api_key": settings.api_key,
            "api": spec.api,
            "timeout_s": spec.api.timeout_ms / 1000,
            "payload": spec.payload,
            "fingerprint": spec.fingerprint,
            "response": spec.response,
            "client": spec.client,
            "reporter": spec.reporter,
            "flush_timeout_s": spec.reporter.flush_timeout_ms / 1000,
            "runtime": spec.languages[language.name].runtime,
            "libraries": spec.languages[language.name].libraries,
        }

    def render(
        self,
        language: str,
        variant: str = "snippet",
        site_id: str | None = None,
        api_key: str | None = None,
        endpoint: str | None = None,
        package: str | None = None,
    ) -> str:
        """One language and variant; ``package`` is its ``--package`` or ``--namespace``.

        The template is rendered and formatted once per language, variant and package,
        with stand-ins for the caller's values; each call then puts the values' literals
        in their places. Where that could differ from a full render (a formatter that
        would lay a longer line out otherwise) the full render runs instead.
        """
        lang = self._language(language, variant)
        settings = make_settings(self.spec, site_id, api_key, endpoint)
        lang.package(package)  # a bad name is refused before anything is cached for it
        skeleton = self.skeleton(lang, variant, package)
        if skeleton is not None:
            filled = skeleton.fill(self._values(settings))
            if filled is not None:
                return filled
        return self._render_settings(lang, variant, settings, package)

    def render_full(
        self,
        language: str,
        variant: str = "snippet",
        site_id: str | None = None,
        api_key: str | None = None,
        endpoint: str | None = None,
        package: str | None = None,
    ) -> str:
        """The same as :meth:`render`, the whole template rendered and formatted every call."""
        lang = self._language(language, variant)
        settings = make_settings(self.spec, site_id, api_key, endpoint)
        return self._render_settings(lang, variant, settings, package)

    def _language(self, language: str, variant: str) -> Language:
        lang = get_language(language)
        if variant not in lang.variants:
            known = ", ".join(lang.variants)
            raise SnippetsError(f"{language} has no variant {variant!r}; choose one of: {known}")
        return lang

    def _render_settings(
        self, lang: Language, variant: str, settings: Settings, package: str | None
    ) -> str:
        return self.render_template(
            lang, lang.template(variant), self.context(lang, variant, settings, package)
        )

    def _values(self, settings: Settings) -> dict[str, str]:
        return {
            "site_id": settings.site_id,
            "api_key": settings.api_key,
            "base_url": settings.base_url,
            "endpoint": settings.base_url + self.spec.api.path,
        }

    def skeleton(self, lang: Language, variant: str, package: str | None) -> Skeleton | None:
        """The cached skeleton of a template, or None where values cannot be filled in."""
        key = (lang.name, variant, package)
        try:
            return self._skeletons[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._skeletons:
                while len(self._skeletons) >= _MAX_SKELETONS:  # many packages: forget the oldest
                    del self._skeletons[next(iter(self._skeletons))]
                try:
                    built = self._build_skeleton(lang, variant, package)
                except SnippetsError:
                    built = None  # the full render says what is wrong, with the real values
                self._skeletons[key] = built
            return self._skeletons[key]

    def _build_skeleton(self, lang: Language, variant: str, package: str | None) -> Skeleton | None:
        """Render with two sets of stand-ins; the parts between them must be the same."""
        found = []
        for stand_ins in _STAND_INS:
            code = self._render_settings(lang, variant, stand_ins, package)
            found.append(Skeleton.find(lang, code, self._values(stand_ins)))
        first, second = found
        if first is None or second is None or first.parts != second.parts:
            return None  # a template that uses a value other than as a literal
        return first

    def render_template(self, language: Language, template: str, context: dict[str, Any]) -> str:
        """Render one template of ``language`` and format it; errors name the template."""
        import jinja2

        name = f"templates/{template}"
        try:
            code = self.env.get_template(template).render(context)
        except jinja2.TemplateNotFound:
            raise SnippetsError(f"{name}: template not found") from None
        except (jinja2.TemplateError, _UnescapedValue) as exc:
            message = getattr(exc, "message", None) or str(exc)
            raise SnippetsError(f"{name}{_template_line(exc)}: {message}") from None
        if language.formatter is not None:
            code = language.formatter(code, name)
        return code

    def render_all(
        self,
        site_id: str | None = None,
        api_key: str | None = None,
        endpoint: str | None = None,
        packages: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """Every language and variant, keyed by its path inside an output folder.

        ``packages`` maps ``--package`` / ``--namespace`` to a name, given to each
        language that takes that option.
        """
        return {
            LANGUAGES[name].output_path(variant): self.render(
                name, variant, site_id, api_key, endpoint, package
            )
            for name, variant, package in every_target(packages)
        }


def render(
    language: str,
    variant: str = "snippet",
    site_id: str | None = None,
    api_key: str | None = None,
    endpoint: str | None = None,
    spec: Path | str = DEFAULT_SPEC,
    package: str | None = None,
) -> str:
    """Render one personalised snippet: the API a dashboard calls.

    ``endpoint`` replaces the spec's base URL; the path still comes from the spec.
    ``package`` puts Java and Kotlin code in that package, C# and PHP code in that
    namespace.
    Raises :class:`~generator.errors.SnippetsError` with a one-line message on
    any bad input.
    """
    if not isinstance(spec, (str, os.PathLike)):
        raise SnippetsError(f"spec must be a path, got {type(spec).__name__}")
    package = _text_value("--package", package)
    return _generator_for(spec).render(language, variant, site_id, api_key, endpoint, package)


#: Loaded specs by the file's identity and version: a change to the file loads it anew.
_GENERATORS: dict[tuple[int, ...], Generator] = {}
_GENERATORS_LOCK = threading.Lock()
#: Specs kept loaded at once (a dashboard uses one).
_MAX_GENERATORS = 8


def _generator_for(spec: Path | str) -> Generator:
    """The cached generator of the spec file, loaded again when the file changes."""
    try:
        status = os.stat(spec)
    except OSError:
        return Generator.from_path(Path(spec))  # raises the one-line error
    key = (
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )
    generator = _GENERATORS.get(key)
    if generator is None:
        with _GENERATORS_LOCK:
            generator = _GENERATORS.get(key)
            if generator is None:
                generator = Generator.from_path(Path(spec))
                while len(_GENERATORS) >= _MAX_GENERATORS:
                    del _GENERATORS[next(iter(_GENERATORS))]
                _GENERATORS[key] = generator
    return generator
