"""A local stand-in for nevision's ingest endpoint, for tests and for users.

It keeps the spec's contract: the ingest path answers the spec's status (200)
with ``{"accepted": n}``, or ``{"accepted": 0, "error": ...}`` for an unknown
site or wrong key (``Invalid site``) and a disabled site (``Errors disabled``),
and adds ``"limitReached": true`` once a site's quota is used up. Every request
is checked against the spec (header, content type, body shape, field types);
what is wrong with it is recorded as ``problems`` beside the request, and only
valid errors count as accepted. Faults (a delay, another status, a body that is
not JSON) can be switched on to test how clients cope.

Hostile clients get an answer, never a dropped connection or a traceback: a bad
or oversized ``Content-Length`` is refused (400, 411, 413), a body that does not
arrive in time gets 408, and JSON too deep or too large to be a report is not
parsed. What the stub keeps and prints is bounded, and request text reaches the
terminal only with its control characters escaped.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO, cast
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, ValidationError

from generator.errors import SnippetsError
from generator.schema import request_schema
from generator.spec import Spec

#: The largest body the stub reads; a longer one is answered 413 unread. The real endpoint
#: takes at most 20 errors, and the reporter caps a message at 4 KiB and a stack at 32 KiB:
#: a batch stays well under 1 MiB, so 4 MiB leaves room for the snippet's uncapped stacks.
MAX_BODY_BYTES = 4 * 1024 * 1024
#: JSON nested deeper, or holding more values, than this is not parsed. A valid body is three
#: levels deep and holds a few hundred values; these bound what parsing one body may cost.
MAX_JSON_DEPTH = 64
MAX_JSON_VALUES = 100_000
#: What ``Stub.received`` keeps: the newest requests, at most this many and this many bytes
#: (estimated). ``wait_for`` counts every arrival, kept or not.
MAX_RECORDS = 1000
MAX_RECORD_BYTES = 64 * 1024 * 1024
#: Seconds a connection may stay silent (a half-sent request, an idle keep-alive connection)
#: before it is closed, and the longest a body may take to arrive.
READ_TIMEOUT_S = 30.0
#: Connections served at once; one more is answered 503 and closed.
MAX_CONNECTIONS = 64
#: Bodies over BIG_BODY_BYTES are read and parsed at most MAX_BIG_BODIES at a time.
BIG_BODY_BYTES = 256 * 1024
MAX_BIG_BODIES = 4
#: The longest ``Faults.delay_s`` (``stub --delay``).
MAX_DELAY_S = 3600.0
#: How often a trickled reply sends its next byte.
TRICKLE_EVERY_S = 0.5
#: After its last answer, a connection is drained for at most this long (and this many
#: bytes) before it is closed, so that a client still sending reads the answer, not a reset.
LINGER_S = 1.0
LINGER_BYTES = 2 * MAX_BODY_BYTES
#: At most this many problems of one request are echoed, and this many characters a line.
ECHO_PROBLEMS = 20
#: At most this many schema problems are kept per request, and names listed per problem.
MAX_PROBLEMS = 100
ECHO_WIDTH = 300


@dataclass
class Site:
    api_key: str
    enabled: bool = True
    #: How many errors this site may still send; None for no limit.
    quota: int | None = None


@dataclass
class Faults:
    """Misbehaviour switched on for every request to the ingest path."""

    #: Seconds to wait before answering.
    delay_s: float = 0.0
    #: Answer with this status instead of the spec's.
    status: int | None = None
    #: Answer with these bytes instead of the JSON reply.
    body: bytes | None = None
    #: Extra reply headers (``Location``, ``Retry-After``); a callable is asked at reply time.
    headers: dict[str, str | Callable[[], str]] = field(default_factory=dict)
    #: Misbehave for the first this many ingest requests only; None for every request.
    first: int | None = None
    #: Send the status and headers at once, then the body a byte every TRICKLE_EVERY_S for
    #: this many seconds before the rest: a reply no per-read timeout ever ends.
    trickle_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("delay_s", "trickle_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= MAX_DELAY_S):
                raise ValueError(f"{name} must be 0 to {MAX_DELAY_S:g} seconds, not {value!r}")


@dataclass
class Received:
    """One request the stub answered."""

    method: str
    path: str
    headers: dict[str, str]
    #: The raw body, decoded as UTF-8 (invalid bytes shown as U+FFFD).
    body: str
    #: The parsed body, or None when it was not valid JSON.
    json: Any
    problems: list[str]
    #: The contract's reply as sent; empty when a fault replaced it.
    reply: dict[str, Any]
    #: The HTTP status sent.
    status: int = 0
    #: ``time.monotonic()`` when the request arrived, and when its reply was sent.
    arrived: float = 0.0
    answered: float = 0.0
    #: Whether the reply has gone out or the client hung up first; and whether the client
    #: took all of it (not so for one that reads a bounded part of a huge reply and closes).
    reply_done: bool = False
    reply_taken: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "body": self.body,
            "json": self.json,
            "problems": self.problems,
            "reply": self.reply,
            "status": self.status,
        }

    @property
    def via_proxy(self) -> bool:
        """Whether the request line named an absolute URL, as clients do to a proxy."""
        return self.path.startswith(("http://", "https://"))


def _where(path: Iterable[str | int]) -> str:
    """``errors[3].lineno`` for a JSON path; ``body`` for the root."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "body"


def _shown_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)[:100]


def _each(path: Iterable[str | int], names: list[str], what: str) -> str:
    """``a.x is missing; a.y is missing``, for at most ECHO_PROBLEMS names."""
    shown = "; ".join(f"{_where([*path, name])} {what}" for name in names[:ECHO_PROBLEMS])
    more = len(names) - ECHO_PROBLEMS
    return shown + (f"; and {more} more" if more > 0 else "")


def _problem(error: ValidationError) -> str:
    """One line for a schema violation, naming where and what, with the value cut short."""
    where = _where(error.absolute_path)
    instance = error.instance
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "required" and isinstance(instance, dict):
        names = error.validator_value if isinstance(error.validator_value, list) else []
        missing = [name for name in names if name not in instance]
        return _each(error.absolute_path, missing, "is missing")
    if kind == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {})
        extra = [str(name)[:100] for name in instance if name not in known]
        return _each(error.absolute_path, extra, "is not a field of the spec")
    if kind == "type":
        return f"{where} should be a JSON {error.validator_value}, got {_shown_json(instance)}"
    if kind in ("minItems", "maxItems") and isinstance(instance, list):
        return (
            f"{where} has {len(instance)} items, "
            f"not {schema.get('minItems', 0)} to {schema.get('maxItems', 'any number')}"
        )
    return f"{where}: {error.message[:200]}"


#: A JSON string, escapes included (linear: the alternatives cannot overlap).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _json_bounds(raw: bytes) -> str | None:
    """Why ``raw`` is too deep or too large to parse, or None; strings are not counted."""
    opens = raw.count(b"[") + raw.count(b"{")
    if opens <= MAX_JSON_DEPTH and opens + raw.count(b",") <= MAX_JSON_VALUES:
        return None
    skeleton = _JSON_STRING.sub(b"0", raw)
    brackets = skeleton.translate(None, _NOT_BRACKETS)
    if skeleton.count(b",") + len(brackets) > 2 * MAX_JSON_VALUES:
        return f"holds more than {MAX_JSON_VALUES} values"
    depth = deepest = 0
    for byte in brackets:  # at most 2 * MAX_JSON_VALUES
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    if deepest > MAX_JSON_DEPTH:
        return f"is nested deeper than {MAX_JSON_DEPTH} levels"
    return None


def _json_size(value: object) -> int:
    """Roughly the bytes a parsed JSON value holds."""
    total, stack = 0, [value]
    while stack:  # bounded: a parsed body holds at most MAX_JSON_VALUES values
        item = stack.pop()
        total += sys.getsizeof(item)
        if isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return total


def _record_size(received: Received) -> int:
    """Roughly the bytes a record holds, to bound what the stub keeps."""
    headers = sum(len(name) + len(value) for name, value in received.headers.items())
    problems = sum(len(problem) for problem in received.problems)
    return 1024 + sys.getsizeof(received.body) + headers + problems + _json_size(received.json)


def _printable(text: str, width: int = ECHO_WIDTH) -> str:
    """``text`` safe for a terminal: control, format and surrogate characters escaped."""
    if len(text) > width:
        text = text[:width] + "..."
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


class _Refused(Exception):
    """A request the stub answers with an HTTP error instead of the contract."""

    def __init__(self, status: int, problem: str) -> None:
        super().__init__(problem)
        self.status = status
        self.problem = problem


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Clients that send in parallel (a burst) must not find the listen queue full:
    # socketserver's default of 5 refuses connections a real endpoint would take.
    request_queue_size = 1024

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], connections: int
    ) -> None:
        self.slots = threading.BoundedSemaphore(connections)
        self.connections = connections
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # One thread per connection, at most `connections` of them: past that, answer
        # 503 at once from the accepting thread (a fresh socket takes the few bytes).
        if not self.slots.acquire(blocking=False):
            body = json.dumps({"error": f"{self.connections} connections open; retry"}).encode()
            try:
                request.setblocking(False)
                request.send(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                    b"Retry-After: 1\r\nConnection: close\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                request.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            self.close_request(request)
            return
        try:
            super().process_request(request, client_address)
        except RuntimeError:  # no thread started ("can't start new thread"): free its slot
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def shutdown_request(self, request: Any) -> None:
        # Drain what the client still sends (bounded), so that it reads the answer
        # instead of a connection reset, then close.
        try:
            request.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_S
            drained = 0
            while drained < LINGER_BYTES:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                request.settimeout(left)
                chunk = request.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)
        except OSError:
            pass
        self.close_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up or went silent (its timeout, its exit) is no fault of the stub's.
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        print(_printable(f"stub: internal error: {type(error).__name__}: {error}"), file=sys.stderr)


class Stub:
    """The endpoint on 127.0.0.1, in a background thread.

    >>> with Stub(spec, {"site": Site("key")}) as stub:  # doctest: +SKIP
    ...     run_client(endpoint=stub.base_url)
    ...     stub.wait_for(1)
    """

    def __init__(
        self,
        spec: Spec,
        sites: dict[str, Site],
        port: int = 0,
        faults: Faults | None = None,
        log_path: Path | None = None,
        echo: TextIO | None = None,
        host: str = "127.0.0.1",
        read_timeout_s: float = READ_TIMEOUT_S,
        max_records: int = MAX_RECORDS,
        max_record_bytes: int = MAX_RECORD_BYTES,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.spec = spec
        self.sites = sites
        self.faults = faults or Faults()
        self.log_path = log_path
        self.echo = echo
        self.read_timeout_s = read_timeout_s
        self.max_records = max_records
        self.max_record_bytes = max_record_bytes
        #: The newest requests and their estimated sizes, oldest first.
        self._records: deque[tuple[Received, int]] = deque()
        self._record_bytes = 0
        #: Requests that arrived since the last reset, kept or not.
        self._arrivals = 0
        self._ingest_count = 0
        self._changed = threading.Condition()
        self._output = threading.Lock()
        self._log_failed = False
        self._big_bodies = threading.BoundedSemaphore(MAX_BIG_BODIES)
        self._validator = Draft202012Validator(request_schema(spec))
        self._server = _Server((host, port), self._handler_class(), max_connections)
        self._thread: threading.Thread | None = None
        if log_path is not None:
            try:
                os.close(os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK))
            except OSError as exc:
                self._server.server_close()
                raise SnippetsError(
                    f"cannot append to the log {log_path}: {exc.strerror or exc}"
                ) from None

    @property
    def received(self) -> list[Received]:
        """The requests kept (the newest ``max_records``), oldest first: a copy."""
        with self._changed:
            return [received for received, _ in self._records]

    @property
    def arrivals(self) -> int:
        """How many requests arrived since the last reset, including those no longer kept."""
        with self._changed:
            return self._arrivals

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What to pass as ``--endpoint``: the spec's path is appended to it."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Stub:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="nevision-stub", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Stub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()

    def reset(self, sites: dict[str, Site], faults: Faults | None = None) -> None:
        """Forget what was received, and answer for ``sites`` with ``faults`` from now on."""
        with self._changed:
            self._records.clear()
            self._record_bytes = 0
            self._arrivals = 0
            self._ingest_count = 0
            self.sites = sites
            self.faults = faults or Faults()

    def errors(self) -> list[dict[str, Any]]:
        """Every error object in the requests kept, in arrival order."""
        return [error for request in self.received for error in self.errors_of(request)]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until ``count`` requests have arrived since the last reset (or the timeout
        passes); return the requests kept."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._arrivals < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return self.received

    def answer(self, headers: dict[str, str], raw: bytes) -> tuple[dict[str, Any], Received]:
        """Check one ingest request against the spec and decide the reply."""
        spec = self.spec
        problems: list[str] = []
        body = raw.decode("utf-8", errors="replace")
        content_type = headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != spec.api.content_type:
            problems.append(
                f"Content-Type is {content_type[:100]!r}, not {spec.api.content_type!r}"
            )
        parsed = None
        too_big = _json_bounds(raw)
        if too_big is not None:
            problems.append(f"body is JSON the stub will not parse: it {too_big}")
        else:
            try:
                parsed = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                problems.append(f"body is not valid UTF-8 JSON: {exc}")
        accepted_field = spec.response.accepted_field
        reply: dict[str, Any] = {accepted_field: 0}
        received = Received("", "", headers, body, parsed, problems, reply)
        if parsed is None:
            return reply, received
        if not isinstance(parsed, dict):
            problems.append("body is not a JSON object")
            return reply, received
        payload = spec.payload
        batch = parsed.get(payload.errors_field)
        checked = parsed
        if isinstance(batch, list) and len(batch) > payload.max_errors:
            # Too many is refused whatever the items hold: check one item more than allowed,
            # so a huge batch costs no more than a full one.
            checked = {**parsed, payload.errors_field: batch[: payload.max_errors + 1]}
        # The request schema (generator.schema) is the contract: what breaks it outside one
        # error refuses the request; what breaks it inside an error refuses that error only.
        invalid_items: set[int] = set()
        whole = False
        found = sorted(self._validator.iter_errors(checked), key=lambda e: list(e.path))
        for error in found:
            path = list(error.absolute_path)
            if len(path) >= 2 and path[0] == payload.errors_field and isinstance(path[1], int):
                invalid_items.add(path[1])
            else:
                whole = True
        problems.extend(_problem(error) for error in found[:MAX_PROBLEMS])
        if len(found) > MAX_PROBLEMS:
            problems.append(f"... and {len(found) - MAX_PROBLEMS} more problems")
        if isinstance(batch, list) and not whole:
            problems.extend(self._written_as_floats(batch, invalid_items))
        site_id = parsed.get(payload.site_id_field)
        site = self.sites.get(site_id) if isinstance(site_id, str) else None
        key = headers.get(spec.api.api_key_header.lower())
        if site is None or key != site.api_key:
            shown = repr(site_id)[:100]
            problems.append(f"unknown site {shown} or wrong {spec.api.api_key_header}")
            reply[spec.response.error_field] = spec.response.errors.invalid_site
            return reply, received
        if not site.enabled:
            reply[spec.response.error_field] = spec.response.errors.errors_disabled
            return reply, received
        if whole or not isinstance(batch, list):
            return reply, received
        valid = len(batch) - len(invalid_items)
        with self._changed:
            if site.quota is not None and valid > site.quota:
                valid = site.quota
                reply[spec.response.limit_reached_field] = True
            if site.quota is not None:
                site.quota -= valid
        reply[accepted_field] = valid
        return reply, received

    def _written_as_floats(self, batch: list[Any], invalid: set[int]) -> list[str]:
        """JSON Schema counts 1.0 as an integer; a client should still write 1: noted (the
        error is taken), so that verify fails a reporter that writes integers as floats."""
        integers = [f.name for f in self.spec.payload.error_fields if f.type == "integer"]
        return [
            f"{self.spec.payload.errors_field}[{index}].{name} is written "
            f"{_shown_json(error[name])}: send a JSON integer"
            for index, error in enumerate(batch[: self.spec.payload.max_errors])
            if isinstance(error, dict) and index not in invalid
            for name in integers
            if isinstance(error.get(name), float)
        ]

    def _record(self, received: Received) -> None:
        size = _record_size(received)
        with self._changed:
            self._records.append((received, size))
            self._record_bytes += size
            self._arrivals += 1
            # Evict the oldest, but always keep the newest: bounded by max_records.
            while len(self._records) > 1 and (
                len(self._records) > self.max_records or self._record_bytes > self.max_record_bytes
            ):
                _, evicted = self._records.popleft()
                self._record_bytes -= evicted
            self._changed.notify_all()
        with self._output:
            if self.log_path is not None:
                self._log(received)
            if self.echo is not None:
                self._echo(received)

    def _log(self, received: Received) -> None:
        assert self.log_path is not None
        # ASCII JSON: lone surrogates and control characters travel as escapes.
        line = json.dumps(received.as_dict(), ensure_ascii=True) + "\n"
        try:
            with self.log_path.open("a", encoding="ascii") as log:
                log.write(line)
        except OSError as exc:
            if not self._log_failed:
                self._log_failed = True
                reason = exc.strerror or str(exc)
                print(_printable(f"stub: cannot write the log {self.log_path}: {reason}"),
                      file=sys.stderr)  # fmt: skip

    def _echo(self, received: Received) -> None:
        assert self.echo is not None
        accepted = received.reply.get(self.spec.response.accepted_field)
        error = received.reply.get(self.spec.response.error_field)
        outcome = (f"HTTP {received.status}" if accepted is None else f"accepted {accepted}") + (
            f", {error}" if error else ""
        )
        lines = [f"stub: problem: {problem}" for problem in received.problems[:ECHO_PROBLEMS]]
        if len(received.problems) > ECHO_PROBLEMS:
            lines.append(f"stub: ... and {len(received.problems) - ECHO_PROBLEMS} more problems")
        # The spec names the fields: show the exception type, message and route.
        payload = self.spec.payload
        shown = [payload.field_for(s) for s in ("exception_type", "message", "route")]
        keys = [field.name for field in shown if field is not None]
        errors = self.errors_of(received)
        for item in errors:
            fields = " ".join(
                f"{key}={json.dumps(item.get(key), ensure_ascii=False)[:80]}"
                for key in keys
                if key in item
            )
            lines.append(f"stub: {received.path} {fields} ({outcome})")
        if not errors:
            lines.append(f"stub: {received.method} {received.path} ({outcome})")
        # Request text never reaches the terminal raw: escapes, controls and surrogates are
        # shown escaped, and what the stream cannot encode as a backslash escape.
        encoding = getattr(self.echo, "encoding", None) or "utf-8"
        text = "".join(_printable(line) + "\n" for line in lines)
        try:
            text = text.encode(encoding, "backslashreplace").decode(encoding)
        except (LookupError, UnicodeError):
            text = text.encode("ascii", "backslashreplace").decode("ascii")
        try:
            self.echo.write(text)
            self.echo.flush()
        except (OSError, ValueError):
            pass  # the terminal went away: the answer still goes out

    def errors_of(self, received: Received) -> list[dict[str, Any]]:
        if isinstance(received.json, dict):
            batch = received.json.get(self.spec.payload.errors_field)
            if isinstance(batch, list):
                return [e for e in batch if isinstance(e, dict)]
        return []

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes: without this, Nagle and delayed ACK
            # hold each answer on a kept-alive connection about 40 ms.
            disable_nagle_algorithm = True
            # A two-word request line ("GET /") is answered with a status line too.
            default_request_version = "HTTP/1.0"
            # Seconds a read or write may wait: a half-sent request does not hold a thread.
            timeout = stub.read_timeout_s

            def handle_expect_100(self) -> bool:
                # Refuse a bad or oversized body before the client sends it.
                try:
                    self._declared_length()
                except _Refused as refused:
                    self._refuse(refused, time.monotonic())
                    return False
                return super().handle_expect_100()

            def _handle(self) -> None:
                arrived = time.monotonic()
                try:
                    self._serve(arrived)
                except _Refused as refused:
                    self._refuse(refused, arrived)
                except OSError:
                    self.close_connection = True  # the client went away
                except Exception as exc:  # a fault of the stub's: still answer, in one line
                    problem = f"stub failure: {type(exc).__name__}: {exc}"
                    print(_printable(f"stub: internal error: {problem}"), file=sys.stderr)
                    self._send(500, json.dumps({"error": problem[:200]}).encode(), close=True)

            def _declared_length(self) -> int:
                if self.headers.get_all("transfer-encoding"):
                    raise _Refused(411, "Transfer-Encoding is not supported: send Content-Length")
                values = {value.strip() for value in self.headers.get_all("content-length") or []}
                if not values:
                    return 0
                if len(values) > 1:
                    raise _Refused(400, "Content-Length is given twice, with different values")
                (text,) = values
                if not (text.isascii() and text.isdigit()):
                    raise _Refused(400, f"Content-Length {text[:30]!r} is not a number")
                if len(text) > 12 or int(text) > MAX_BODY_BYTES:
                    raise _Refused(
                        413, f"the body is over the stub's limit of {MAX_BODY_BYTES} bytes"
                    )
                return int(text)

            def _read_body(self, length: int) -> bytes:
                """The body, read within ``timeout`` seconds in all."""
                reader = cast(io.BufferedReader, self.rfile)
                deadline = time.monotonic() + stub.read_timeout_s
                chunks: list[bytes] = []
                got = 0
                while got < length:  # each turn reads at least a byte or leaves
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise _Refused(408, f"the body did not arrive in {stub.read_timeout_s:g} s")
                    self.connection.settimeout(min(left, stub.read_timeout_s))
                    try:
                        chunk = reader.read1(min(65536, length - got))
                    except TimeoutError:
                        raise _Refused(
                            408, f"the body did not arrive in {stub.read_timeout_s:g} s"
                        ) from None
                    if not chunk:
                        raise _Refused(400, f"the body ended after {got} of {length} bytes")
                    chunks.append(chunk)
                    got += len(chunk)
                self.connection.settimeout(stub.read_timeout_s)
                return b"".join(chunks)

            def _serve(self, arrived: float) -> None:
                length = self._declared_length()
                big = length > BIG_BODY_BYTES
                if big and not stub._big_bodies.acquire(timeout=stub.read_timeout_s):
                    raise _Refused(503, "too many large bodies at once; retry")
                try:
                    raw = self._read_body(length)
                    self._answer(raw, arrived)
                finally:
                    if big:
                        stub._big_bodies.release()

            def _answer(self, raw: bytes, arrived: float) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                spec = stub.spec
                # A client that goes through a proxy names the whole URL: the stub
                # answers as the proxy and the endpoint at once, and records it.
                path = self.path
                if "://" in path:
                    with contextlib.suppress(ValueError):  # not a URL: not the ingest path
                        path = urlsplit(path).path
                path = path.split("?")[0]
                if path != spec.api.path or self.command != spec.api.method:
                    reply: dict[str, Any] = {"error": "not the ingest endpoint"}
                    received = Received(self.command, self.path, headers, "", None, [], reply, 404)
                    received.problems.append(
                        f"{self.command} {self.path[:200]} is not the ingest endpoint"
                    )
                    received.arrived = received.answered = arrived
                    stub._record(received)
                    self._send(404, json.dumps(reply).encode())
                    return
                reply, received = stub.answer(headers, raw)
                with stub._changed:
                    stub._ingest_count += 1
                    faults = stub.faults
                    if faults.first is not None and stub._ingest_count > faults.first:
                        faults = Faults()
                status = faults.status or spec.response.status
                body = faults.body if faults.body is not None else json.dumps(reply).encode()
                received.method, received.path, received.status = self.command, self.path, status
                received.arrived = arrived
                if faults.status or faults.body is not None:
                    received.reply = {}  # the client never sees the contract's reply
                received.answered = time.monotonic() + faults.delay_s
                stub._record(received)
                if faults.delay_s:
                    time.sleep(faults.delay_s)
                extra = {k: v() if callable(v) else v for k, v in faults.headers.items()}
                received.reply_taken = self._send(status, body, extra, faults.trickle_s)
                received.reply_done = True

            def _refuse(self, refused: _Refused, arrived: float) -> None:
                """Answer an HTTP error, record it, and close the connection."""
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply: dict[str, Any] = {"error": refused.problem}
                received = Received(
                    self.command or "", self.path, headers, "", None, [refused.problem], reply,
                    refused.status, arrived, time.monotonic(),
                )  # fmt: skip
                stub._record(received)
                self._send(refused.status, json.dumps(reply).encode(), close=True)

            def _send(
                self,
                status: int,
                body: bytes,
                extra: dict[str, str] | None = None,
                trickle_s: float = 0.0,
                close: bool = False,
            ) -> bool:
                """Send the answer; whether the client took all of it. A trickled body
                starts with spaces, one every TRICKLE_EVERY_S (JSON allows them)."""
                spaces = math.ceil(trickle_s / TRICKLE_EVERY_S)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(spaces + len(body)))
                    for name, value in (extra or {}).items():
                        self.send_header(name, value)
                    if close:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    for _ in range(spaces):
                        self.wfile.write(b" ")
                        time.sleep(TRICKLE_EVERY_S)
                    self.wfile.write(body)
                except OSError:
                    self.close_connection = True  # the client gave up (its timeout)
                    return False
                return True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def parse_site(text: str) -> tuple[str, str]:
    """``SITE_ID:API_KEY`` (split at the last colon)."""
    site_id, sep, key = text.rpartition(":")
    if not sep or not site_id or not key:
        raise ValueError(f"{text!r} is not SITE_ID:API_KEY")
    return site_id, key
