"""Load ``snippets_spec.yaml`` and validate it into frozen dataclasses.

Every problem is reported as one line naming the file, the line and the key
path, e.g. ``snippets_spec.yaml:12: api.timeout_ms: expected an integer, got 'soon'``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from generator.errors import SnippetsError
from generator.literals import comment_problem
from generator.values import check_api_key, check_base_url, check_site_id

T = TypeVar("T")

#: What each error field may carry, and the JSON type that value has.
#: Every language template knows how to compute each of these.
SOURCES: dict[str, str] = {
    "exception_type": "string",
    "message": "string",
    "stack": "string",
    "fingerprint": "string",
    "timestamp_ms": "integer",
    "route": "string",
    "filename": "string",
    "lineno": "integer",
}
#: Sources a fingerprint may be built from: strings every report has.
FINGERPRINT_PARTS = ("exception_type", "route")
JSON_TYPES = ("string", "integer")
METHODS = ("POST", "PUT")

# Every pattern is matched whole (fullmatch: "$" would also match before a final
# newline) and spells out ASCII ("\\w" and "\\d" admit other scripts).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+")
_URL_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_DECIMAL = re.compile(r"[-+]?[0-9]+")
#: YAML 1.1's spellings of true and false, which PyYAML's resolver tags as booleans.
_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
#: Limits that keep a mistaken or hostile spec from costing minutes and gigabytes:
#: the real spec is a few kilobytes, nests five deep and holds short strings.
MAX_SPEC_BYTES = 256 * 1024
MAX_DEPTH = 20
MAX_TEXT = 1000
MAX_DIGITS = 16
#: Prose for the docs page (a source's meaning) may be longer than a name or a value.
MAX_PROSE = 2000


class SpecError(SnippetsError):
    """The spec file is missing, unreadable or invalid."""


@dataclass(frozen=True)
class Api:
    base_url: str
    path: str
    method: str
    content_type: str
    api_key_header: str
    timeout_ms: int
    #: Where a user finds the site id and the API key (prose for the docs page).
    credentials: str


@dataclass(frozen=True)
class Placeholders:
    site_id: str
    api_key: str


@dataclass(frozen=True)
class ErrorField:
    name: str
    source: str
    type: str
    required: bool


@dataclass(frozen=True)
class Payload:
    site_id_field: str
    errors_field: str
    min_errors: int
    max_errors: int
    #: Whether the endpoint takes fields the spec does not name.
    unknown_fields: bool
    error_fields: tuple[ErrorField, ...]

    def field_for(self, source: str) -> ErrorField | None:
        return next((f for f in self.error_fields if f.source == source), None)


@dataclass(frozen=True)
class Source:
    """What a source holds (prose), and an example value of its JSON type."""

    meaning: str
    example: str | int


@dataclass(frozen=True)
class Fingerprint:
    parts: tuple[str, ...]
    separator: str


@dataclass(frozen=True)
class ResponseErrors:
    invalid_site: str
    errors_disabled: str


@dataclass(frozen=True)
class ResponseMeanings:
    accepted: str
    error: str
    invalid_site: str
    errors_disabled: str
    limit_reached: str


@dataclass(frozen=True)
class Response:
    status: int
    accepted_field: str
    error_field: str
    errors: ResponseErrors
    limit_reached_field: str
    meanings: ResponseMeanings


@dataclass(frozen=True)
class ReporterEnv:
    site_id: str
    api_key: str
    base_url: str


@dataclass(frozen=True)
class Retry:
    attempts: int
    initial_backoff_ms: int
    max_backoff_ms: int


@dataclass(frozen=True)
class Client:
    """What every variant does, snippet and reporter alike."""

    queue_size: int
    max_retry_after_ms: int
    max_batch_wait_ms: int


@dataclass(frozen=True)
class Reporter:
    """Settings of the production ``reporter`` variant."""

    env: ReporterEnv
    flush_timeout_ms: int
    retry: Retry
    limit_reached_cooldown_ms: int
    max_message_length: int
    max_stack_length: int
    max_route_length: int


@dataclass(frozen=True)
class Library:
    name: str
    version: str


@dataclass(frozen=True)
class LanguageSpec:
    runtime: str
    libraries: tuple[Library, ...]


@dataclass(frozen=True)
class Spec:
    path: Path
    api: Api
    placeholders: Placeholders
    payload: Payload
    sources: dict[str, Source]
    fingerprint: Fingerprint
    response: Response
    client: Client
    reporter: Reporter
    languages: dict[str, LanguageSpec]

    @property
    def endpoint(self) -> str:
        return self.api.base_url + self.api.path

    def example_value(self, source: str) -> str | int:
        """The example of ``source``; the fingerprint's follows the recipe."""
        if source == "fingerprint":
            return self.fingerprint.separator.join(
                str(self.sources[part].example) for part in self.fingerprint.parts
            )
        return self.sources[source].example

    def example_error(self) -> dict[str, str | int]:
        """One error object holding every field, with the spec's example values."""
        return {f.name: self.example_value(f.source) for f in self.payload.error_fields}


def _shown(value: object) -> str:
    """``repr`` of a value for an error line, cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Value:
    """A YAML node with the key path that led to it, for precise errors."""

    def __init__(self, node: yaml.Node, path: str, file: str) -> None:
        self.node = node
        self.path = path
        self.file = file

    def fail(self, message: str, node: yaml.Node | None = None) -> SpecError:
        line = (node or self.node).start_mark.line + 1
        where = f"{self.path}: " if self.path else ""
        return SpecError(f"{self.file}:{line}: {where}{message}")

    def _describe(self) -> str:
        if isinstance(self.node, yaml.MappingNode):
            return "a mapping"
        if isinstance(self.node, yaml.SequenceNode):
            return "a list"
        return _shown(self.node.value)

    def _scalar(self, expected: str) -> yaml.ScalarNode:
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.fail(f"expected {expected}, got {self._describe()}")
        return self.node

    def text(self, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        """A non-empty string, matched whole by ``pattern`` when given."""
        node = self._scalar("a string")
        if node.tag != "tag:yaml.org,2002:str":
            raise self.fail(f"expected a string, got {_shown(node.value)}; quote it")
        value = str(node.value)
        if value == "":
            raise self.fail("must not be empty")
        if len(value) > MAX_TEXT:
            raise self.fail(f"is {len(value)} characters long; at most {MAX_TEXT}")
        if pattern is not None and not pattern.fullmatch(value):
            raise self.fail(f"{_shown(value)} is not {what}")
        return value

    def prose(self) -> str:
        """One line of text for people (the docs page): any printable characters."""
        node = self._scalar("a string")
        if node.tag != "tag:yaml.org,2002:str":
            raise self.fail(f"expected a string, got {_shown(node.value)}; quote it")
        value = str(node.value)
        if not value.strip():
            raise self.fail("must not be empty")
        if len(value) > MAX_PROSE:
            raise self.fail(f"is {len(value)} characters long; at most {MAX_PROSE}")
        for char in value:
            if not char.isprintable():
                raise self.fail(
                    f"{_shown(char)} is not printable: one line of text (fold it with >-)"
                )
        return value

    def comment_text(self, what: str = "plain text") -> str:
        """A string that is also printed in comments: safe in every language's lexer."""
        value = self.text()
        problem = comment_problem(value)
        if problem:
            raise self.fail(f"{_shown(value)} is not {what}: it {problem}")
        return value

    def integer(self, low: int, high: int) -> int:
        """A plain decimal integer from ``low`` to ``high``, whatever tag it carries."""
        node = self._scalar("an integer")
        text = str(node.value).strip()
        if node.tag != "tag:yaml.org,2002:int" or not _DECIMAL.fullmatch(text):
            raise self.fail(f"expected an integer, got {_shown(node.value)}")
        if len(text.lstrip("+-")) > MAX_DIGITS:
            raise self.fail(f"must be between {low} and {high}, got {_shown(text)}")
        value = int(text)
        if not low <= value <= high:
            raise self.fail(f"must be between {low} and {high}, got {value}")
        return value

    def boolean(self) -> bool:
        node = self._scalar("true or false")
        value = _BOOLEANS.get(str(node.value).lower())
        if node.tag != "tag:yaml.org,2002:bool" or value is None:
            raise self.fail(f"expected true or false, got {_shown(node.value)}")
        return value

    def choice(self, choices: tuple[str, ...] | list[str]) -> str:
        value = self.text()
        if value not in choices:
            raise self.fail(f"{value!r} is not one of {', '.join(choices)}")
        return value

    def items(self) -> Iterator[_Value]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.fail(f"expected a list, got {self._describe()}")
        for index, child in enumerate(self.node.value):
            yield _Value(child, f"{self.path}[{index}]", self.file)

    def mapping(self) -> _Mapping:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.fail(f"expected a mapping, got {self._describe()}")
        return _Mapping(self)


class _Mapping:
    """Keys are taken one by one; ``done()`` rejects whatever was not taken."""

    def __init__(self, value: _Value) -> None:
        self.value = value
        self.children: dict[str, _Value] = {}
        self.key_nodes: dict[str, yaml.Node] = {}
        assert isinstance(value.node, yaml.MappingNode)
        for key_node, child in value.node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                raise value.fail("keys must be strings", key_node)
            path = f"{value.path}.{key}" if value.path else key
            if key in self.children:
                raise _Value(key_node, path, value.file).fail("duplicate key")
            self.children[key] = _Value(child, path, value.file)
            self.key_nodes[key] = key_node
        self.taken: set[str] = set()

    def __getitem__(self, key: str) -> _Value:
        self.taken.add(key)
        if key not in self.children:
            path = f"{self.value.path}.{key}" if self.value.path else key
            raise _Value(self.value.node, path, self.value.file).fail("missing key")
        return self.children[key]

    def keys(self) -> list[str]:
        return list(self.children)

    def done(self) -> None:
        for key in self.children:
            if key not in self.taken:
                child = self.children[key]
                raise child.fail("unknown key", self.key_nodes[key])


def _record(value: _Value, build: Callable[[_Mapping], T]) -> T:
    mapping = value.mapping()
    result = build(mapping)
    mapping.done()
    return result


def _api(m: _Mapping) -> Api:
    base = m["base_url"]
    base_url = base.text()
    problem = check_base_url(base_url)
    if problem:
        raise base.fail(f"{base_url!r} {problem}")
    path = m["path"]
    path_value = path.text(_URL_PATH, "a URL path like /a/b")
    return Api(
        base_url=base_url,
        path=path_value,
        method=m["method"].choice(METHODS),
        content_type=m["content_type"].text(_MEDIA_TYPE, "a media type"),
        api_key_header=m["api_key_header"].text(_HEADER, "an HTTP header name"),
        timeout_ms=m["timeout_ms"].integer(100, 120_000),
        credentials=m["credentials"].prose(),
    )


def _field(m: _Mapping) -> ErrorField:
    name = m["name"].text(_NAME, "a field name")
    source_value = m["source"]
    source = source_value.choice(list(SOURCES))
    type_value = m["type"]
    json_type = type_value.choice(JSON_TYPES)
    if SOURCES[source] != json_type:
        raise type_value.fail(f"source {source} is a JSON {SOURCES[source]}, not {json_type}")
    return ErrorField(name=name, source=source, type=json_type, required=m["required"].boolean())


def _payload(m: _Mapping) -> Payload:
    fields_value = m["error_fields"]
    fields: list[ErrorField] = []
    for item in fields_value.items():
        field = _record(item, _field)
        for earlier in fields:
            if earlier.name == field.name:
                raise item.fail(f"field name {field.name!r} is used twice")
            if earlier.source == field.source:
                raise item.fail(f"source {field.source!r} is used twice")
        fields.append(field)
    if not fields:
        raise fields_value.fail("must list at least one field")
    min_errors = m["min_errors"].integer(1, 1000)
    max_value = m["max_errors"]
    max_errors = max_value.integer(1, 1000)
    if max_errors < min_errors:
        raise max_value.fail(f"must be at least min_errors ({min_errors})")
    site_id_field = m["site_id_field"].text(_NAME, "a field name")
    errors_value = m["errors_field"]
    errors_field = errors_value.text(_NAME, "a field name")
    if errors_field == site_id_field:
        raise errors_value.fail(f"{errors_field!r} is site_id_field too: the names must differ")
    return Payload(
        site_id_field=site_id_field,
        errors_field=errors_field,
        min_errors=min_errors,
        max_errors=max_errors,
        unknown_fields=m["unknown_fields"].boolean(),
        error_fields=tuple(fields),
    )


def _sources(value: _Value) -> dict[str, Source]:
    """Every source described once, with an example of its JSON type (none for the
    fingerprint, whose example follows its recipe)."""
    m = value.mapping()
    sources: dict[str, Source] = {}
    for name, json_type in SOURCES.items():
        entry = m[name].mapping()
        meaning = entry["meaning"].prose()
        example: str | int
        if name == "fingerprint":
            example = ""
        elif json_type == "integer":
            example = entry["example"].integer(0, 2**53 - 1)  # exact in every JSON reader
        else:
            example = entry["example"].prose()
        entry.done()
        sources[name] = Source(meaning, example)
    m.done()
    return sources


def _fingerprint(m: _Mapping) -> Fingerprint:
    parts_value = m["parts"]
    parts = tuple(item.choice(FINGERPRINT_PARTS) for item in parts_value.items())
    if not parts:
        raise parts_value.fail("must list at least one part")
    separator = m["separator"]
    node = separator._scalar("a string")
    if node.tag != "tag:yaml.org,2002:str":
        raise separator.fail(f"expected a string, got {_shown(node.value)}; quote it")
    if len(str(node.value)) > MAX_TEXT:
        raise separator.fail(f"is {len(str(node.value))} characters long; at most {MAX_TEXT}")
    if not str(node.value).isprintable():
        raise separator.fail("must be printable: no line breaks or control characters")
    return Fingerprint(parts=parts, separator=str(node.value))


def _response_errors(m: _Mapping) -> ResponseErrors:
    invalid_site = m["invalid_site"].comment_text()
    disabled = m["errors_disabled"]
    errors_disabled = disabled.comment_text()
    if errors_disabled == invalid_site:
        raise disabled.fail(f"{errors_disabled!r} is invalid_site too: the values must differ")
    return ResponseErrors(invalid_site, errors_disabled)


def _response(m: _Mapping) -> Response:
    names: dict[str, str] = {}
    for key in ("accepted_field", "error_field", "limit_reached_field"):
        value = m[key]
        name = value.text(_NAME, "a field name")
        if name in names:
            raise value.fail(f"{name!r} is {names[name]} too: the names must differ")
        names[name] = key
    accepted, error, limit = names
    return Response(
        status=m["status"].integer(200, 299),
        accepted_field=accepted,
        error_field=error,
        errors=_record(m["errors"], _response_errors),
        limit_reached_field=limit,
        meanings=_record(
            m["meanings"],
            lambda e: ResponseMeanings(
                accepted=e["accepted"].prose(),
                error=e["error"].prose(),
                invalid_site=e["invalid_site"].prose(),
                errors_disabled=e["errors_disabled"].prose(),
                limit_reached=e["limit_reached"].prose(),
            ),
        ),
    )


def _reporter(m: _Mapping) -> Reporter:
    env = _record(
        m["env"],
        lambda e: ReporterEnv(
            site_id=e["site_id"].text(_ENV_NAME, "an environment variable name"),
            api_key=e["api_key"].text(_ENV_NAME, "an environment variable name"),
            base_url=e["base_url"].text(_ENV_NAME, "an environment variable name"),
        ),
    )

    def retry(r: _Mapping) -> Retry:
        initial = r["initial_backoff_ms"].integer(1, 3_600_000)
        most = r["max_backoff_ms"]
        max_backoff = most.integer(1, 3_600_000)
        if max_backoff < initial:
            raise most.fail(f"must be at least initial_backoff_ms ({initial})")
        return Retry(r["attempts"].integer(1, 100), initial, max_backoff)

    return Reporter(
        env=env,
        flush_timeout_ms=m["flush_timeout_ms"].integer(0, 120_000),
        retry=_record(m["retry"], retry),
        limit_reached_cooldown_ms=m["limit_reached_cooldown_ms"].integer(0, 86_400_000),
        max_message_length=m["max_message_length"].integer(16, 10_000_000),
        max_stack_length=m["max_stack_length"].integer(16, 10_000_000),
        max_route_length=m["max_route_length"].integer(16, 10_000_000),
    )


def _client(m: _Mapping) -> Client:
    return Client(
        queue_size=m["queue_size"].integer(1, 1_000_000),
        max_retry_after_ms=m["max_retry_after_ms"].integer(0, 86_400_000),
        max_batch_wait_ms=m["max_batch_wait_ms"].integer(0, 3_600_000),
    )


def _library(m: _Mapping) -> Library:
    return Library(
        name=m["name"].comment_text("a plain library name"),
        version=m["version"].comment_text("a plain version"),
    )


def _language(m: _Mapping) -> LanguageSpec:
    return LanguageSpec(
        runtime=m["runtime"].comment_text(),
        libraries=tuple(_record(item, _library) for item in m["libraries"].items()),
    )


def _placeholders(m: _Mapping) -> Placeholders:
    values = []
    for key, check in (("site_id", check_site_id), ("api_key", check_api_key)):
        item = m[key]
        value = item.text()
        problem = check(value)
        if problem:
            raise item.fail(f"{_shown(value)} {problem}")
        if not value.isprintable():
            raise item.fail(f"{_shown(value)} is shown on the docs page: no control characters")
        values.append(value)
    return Placeholders(*values)


def _check_depth(value: _Value) -> None:
    """Refuse nesting deeper than MAX_DEPTH; shared (aliased) nodes are visited once."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(value.node, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise value.fail(f"nested more than {MAX_DEPTH} levels deep", node)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in node.value for child in pair)


def _spec(path: Path, known_languages: Collection[str], m: _Mapping) -> Spec:
    payload = _record(m["payload"], _payload)
    fingerprint = _record(m["fingerprint"], _fingerprint)
    languages_map = m["languages"].mapping()
    languages = {name: _record(languages_map[name], _language) for name in known_languages}
    languages_map.done()
    return Spec(
        path=path,
        api=_record(m["api"], _api),
        placeholders=_record(m["placeholders"], _placeholders),
        payload=payload,
        sources=_sources(m["sources"]),
        fingerprint=fingerprint,
        response=_record(m["response"], _response),
        client=_record(m["client"], _client),
        reporter=_record(m["reporter"], _reporter),
        languages=languages,
    )


def load_spec(path: Path, known_languages: Collection[str]) -> Spec:
    """Read and validate the spec at ``path``; raise :class:`SpecError` on any problem.

    ``known_languages`` are the languages the generator has templates for: the
    spec must describe each of them, and no other.
    """
    name = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError(f"{name}: cannot read spec: {reason}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"{name}: the spec is larger than {MAX_SPEC_BYTES // 1024} KiB")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"{mark.line + 1}:" if mark else ""
        raise SpecError(f"{name}:{line} invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{name}: invalid YAML: {exc}") from None
    except RecursionError:
        raise SpecError(f"{name}: nested more than {MAX_DEPTH} levels deep") from None
    if root is None:
        raise SpecError(f"{name}: the spec is empty")
    top = _Value(root, "", name)
    _check_depth(top)
    return _record(top, lambda m: _spec(path, known_languages, m))
