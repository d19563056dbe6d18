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
from urllib.parse import urlsplit

import yaml

from generator.errors import SnippetsError

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

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
# Text that is printed into generated comments: no newlines, no comment closers.
_COMMENT_SAFE = re.compile(r"^[A-Za-z0-9 .,:;_+*@/()<>=~^-]*$")


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
    error_fields: tuple[ErrorField, ...]

    def field_for(self, source: str) -> ErrorField | None:
        return next((f for f in self.error_fields if f.source == source), None)


@dataclass(frozen=True)
class Fingerprint:
    parts: tuple[str, ...]
    separator: str


@dataclass(frozen=True)
class ResponseErrors:
    invalid_site: str
    errors_disabled: str


@dataclass(frozen=True)
class Response:
    status: int
    accepted_field: str
    error_field: str
    errors: ResponseErrors
    limit_reached_field: str


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
    fingerprint: Fingerprint
    response: Response
    client: Client
    reporter: Reporter
    languages: dict[str, LanguageSpec]

    @property
    def endpoint(self) -> str:
        return self.api.base_url + self.api.path


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
        return repr(self.node.value)

    def _scalar(self, expected: str) -> yaml.ScalarNode:
        if not isinstance(self.node, yaml.ScalarNode):
            raise self.fail(f"expected {expected}, got {self._describe()}")
        return self.node

    def text(self, pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        node = self._scalar("a string")
        if node.tag != "tag:yaml.org,2002:str":
            raise self.fail(f"expected a string, got {node.value!r}; quote it")
        if node.value == "":
            raise self.fail("must not be empty")
        if pattern is not None and not pattern.match(node.value):
            raise self.fail(f"{node.value!r} is not {what}")
        return str(node.value)

    def integer(self, low: int, high: int) -> int:
        node = self._scalar("an integer")
        if node.tag != "tag:yaml.org,2002:int":
            raise self.fail(f"expected an integer, got {node.value!r}")
        value = int(yaml.safe_load(node.value))
        if not low <= value <= high:
            raise self.fail(f"must be between {low} and {high}, got {value}")
        return value

    def boolean(self) -> bool:
        node = self._scalar("true or false")
        if node.tag != "tag:yaml.org,2002:bool":
            raise self.fail(f"expected true or false, got {node.value!r}")
        return bool(yaml.safe_load(node.value))

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


def check_base_url(url: str) -> str | None:
    """Return why ``url`` is not a usable base URL, or None when it is."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if parts.query or parts.fragment or url.endswith("/"):
        return "must have no query, fragment or trailing slash"
    if any(c <= " " or c > "~" or c in "\"'\\<>{}|^`" for c in url):
        return "must contain only printable ASCII without quotes or spaces"
    try:
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        return "has an invalid port"
    return None


def _api(m: _Mapping) -> Api:
    base = m["base_url"]
    base_url = base.text()
    problem = check_base_url(base_url)
    if problem:
        raise base.fail(f"{base_url!r} {problem}")
    path = m["path"]
    path_value = path.text(re.compile(r"^/[A-Za-z0-9._~/-]*$"), "a URL path like /a/b")
    return Api(
        base_url=base_url,
        path=path_value,
        method=m["method"].choice(METHODS),
        content_type=m["content_type"].text(re.compile(r"^[\w.+-]+/[\w.+-]+$"), "a media type"),
        api_key_header=m["api_key_header"].text(_HEADER, "an HTTP header name"),
        timeout_ms=m["timeout_ms"].integer(100, 120_000),
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
    return Payload(
        site_id_field=m["site_id_field"].text(_NAME, "a field name"),
        errors_field=m["errors_field"].text(_NAME, "a field name"),
        min_errors=min_errors,
        max_errors=max_errors,
        error_fields=tuple(fields),
    )


def _fingerprint(m: _Mapping) -> Fingerprint:
    parts_value = m["parts"]
    parts = tuple(item.choice(FINGERPRINT_PARTS) for item in parts_value.items())
    if not parts:
        raise parts_value.fail("must list at least one part")
    separator = m["separator"]
    node = separator._scalar("a string")
    if node.tag != "tag:yaml.org,2002:str":
        raise separator.fail(f"expected a string, got {node.value!r}; quote it")
    return Fingerprint(parts=parts, separator=str(node.value))


def _response(m: _Mapping) -> Response:
    return Response(
        status=m["status"].integer(200, 299),
        accepted_field=m["accepted_field"].text(_NAME, "a field name"),
        error_field=m["error_field"].text(_NAME, "a field name"),
        errors=_record(
            m["errors"],
            lambda e: ResponseErrors(
                invalid_site=e["invalid_site"].text(),
                errors_disabled=e["errors_disabled"].text(),
            ),
        ),
        limit_reached_field=m["limit_reached_field"].text(_NAME, "a field name"),
    )


_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


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
    )


def _client(m: _Mapping) -> Client:
    return Client(
        queue_size=m["queue_size"].integer(1, 1_000_000),
        max_retry_after_ms=m["max_retry_after_ms"].integer(0, 86_400_000),
        max_batch_wait_ms=m["max_batch_wait_ms"].integer(0, 3_600_000),
    )


def _library(m: _Mapping) -> Library:
    return Library(
        name=m["name"].text(_COMMENT_SAFE, "a plain library name"),
        version=m["version"].text(_COMMENT_SAFE, "a plain version"),
    )


def _language(m: _Mapping) -> LanguageSpec:
    return LanguageSpec(
        runtime=m["runtime"].text(_COMMENT_SAFE, "plain text"),
        libraries=tuple(_record(item, _library) for item in m["libraries"].items()),
    )


def _spec(path: Path, known_languages: Collection[str], m: _Mapping) -> Spec:
    payload = _record(m["payload"], _payload)
    fingerprint = _record(m["fingerprint"], _fingerprint)
    languages_map = m["languages"].mapping()
    languages = {name: _record(languages_map[name], _language) for name in known_languages}
    languages_map.done()
    return Spec(
        path=path,
        api=_record(m["api"], _api),
        placeholders=_record(
            m["placeholders"],
            lambda p: Placeholders(site_id=p["site_id"].text(), api_key=p["api_key"].text()),
        ),
        payload=payload,
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
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpecError(f"{name}: cannot read spec: {reason}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f"{mark.line + 1}:" if mark else ""
        raise SpecError(f"{name}:{line} invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{name}: invalid YAML: {exc}") from None
    if root is None:
        raise SpecError(f"{name}: the spec is empty")
    return _record(_Value(root, "", name), lambda m: _spec(path, known_languages, m))
