"""The one Jinja environment, and the pipeline from spec to finished source text."""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from generator.errors import SnippetsError
from generator.languages import LANGUAGES, Language, get_language
from generator.literals import Code, comment_problem
from generator.spec import Spec, check_api_key, check_base_url, check_site_id, load_spec

_PACKAGE = Path(__file__).resolve().parent


def _resource(name: str) -> Path:
    """A data file shipped inside the wheel, or beside the package in a checkout."""
    installed = _PACKAGE / name
    return installed if installed.exists() else _PACKAGE.parent / name


TEMPLATES_DIR = _resource("templates")
DEFAULT_SPEC = _resource("snippets_spec.yaml")


class _UnescapedValue(Exception):
    pass


def _finalize(value: object) -> object:
    """Let only finished code and numbers into the output.

    A bare string from the spec or the command line must go through ``|lit``
    (a string literal) or ``|text`` (comment text); forgetting that is an error.
    """
    if isinstance(value, Code):
        return value
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises here, naming the missing variable
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    raise _UnescapedValue(
        f"{value!r} reached the output without a filter; use |lit for code or |text for comments"
    )


@jinja2.pass_context
def _literal_filter(context: jinja2.runtime.Context, value: object) -> Code:
    if not isinstance(value, str):
        raise _UnescapedValue(f"|lit takes a string, got {value!r}")
    language: Language = context["language"]
    return language.literal(value)


@jinja2.pass_context
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
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_finalize,
    )
    env.filters["lit"] = _literal_filter
    env.filters["text"] = _text_filter
    env.filters["ident"] = _ident_filter
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


class Generator:
    """Renders every language and variant from one loaded spec."""

    def __init__(self, spec: Spec, env: jinja2.Environment | None = None) -> None:
        self.spec = spec
        self.env = env or make_env()

    @classmethod
    def from_path(cls, path: Path = DEFAULT_SPEC) -> Generator:
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
        """One language and variant; ``package`` is its ``--package`` or ``--namespace``."""
        lang = get_language(language)
        if variant not in lang.variants:
            known = ", ".join(lang.variants)
            raise SnippetsError(f"{language} has no variant {variant!r}; choose one of: {known}")
        settings = make_settings(self.spec, site_id, api_key, endpoint)
        return self.render_template(
            lang, lang.template(variant), self.context(lang, variant, settings, package)
        )

    def render_template(self, language: Language, template: str, context: dict[str, Any]) -> str:
        """Render one template of ``language`` and format it; errors name the template."""
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
        chosen = packages or {}
        return {
            lang.output_path(variant): self.render(
                lang.name,
                variant,
                site_id,
                api_key,
                endpoint,
                chosen.get(lang.package_option) if lang.package_option else None,
            )
            for lang in LANGUAGES.values()
            for variant in lang.variants
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
    return Generator.from_path(Path(spec)).render(
        language, variant, site_id, api_key, endpoint, package
    )
