"""A local stand-in for nevision's ingest endpoint, for tests and for users.

It keeps the spec's contract: the ingest path answers the spec's status (200)
with ``{"accepted": n}``, or ``{"accepted": 0, "error": ...}`` for an unknown
site or wrong key (``Invalid site``) and a disabled site (``Errors disabled``),
and adds ``"limitReached": true`` once a site's quota is used up. Every request
is checked against the spec (header, content type, body shape, field types);
what is wrong with it is recorded as ``problems`` beside the request, and only
valid errors count as accepted. Faults (a delay, another status, a body that is
not JSON) can be switched on to test how clients cope.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from generator.spec import Spec


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


def _check_error(spec: Spec, index: int, error: object) -> list[str]:
    """Problems with one error object, against the spec's field list."""
    if not isinstance(error, dict):
        return [f"errors[{index}] is not an object"]
    problems = []
    known = {f.name: f for f in spec.payload.error_fields}
    for name in error:
        if name not in known:
            problems.append(f"errors[{index}].{name} is not a field of the spec")
    for spec_field in spec.payload.error_fields:
        if spec_field.name not in error:
            if spec_field.required:
                problems.append(f"errors[{index}].{spec_field.name} is missing")
            continue
        value = error[spec_field.name]
        if spec_field.type == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            problems.append(
                f"errors[{index}].{spec_field.name} should be a JSON {spec_field.type}, "
                f"got {json.dumps(value)}"
            )
    return problems


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Clients that send in parallel (a burst) must not find the listen queue full:
    # socketserver's default of 5 refuses connections a real endpoint would take.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (its timeout, its exit) is no fault of the stub's.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


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
    ) -> None:
        self.spec = spec
        self.sites = sites
        self.faults = faults or Faults()
        self.log_path = log_path
        self.echo = echo
        self.received: list[Received] = []
        self._ingest_count = 0
        self._changed = threading.Condition()
        self._server = _Server((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

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
            self.received.clear()
            self._ingest_count = 0
            self.sites = sites
            self.faults = faults or Faults()

    def errors(self) -> list[dict[str, Any]]:
        """Every error object received so far, in arrival order."""
        return [error for request in list(self.received) for error in self.errors_of(request)]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until ``count`` requests have arrived (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return list(self.received)

    def answer(self, headers: dict[str, str], raw: bytes) -> tuple[dict[str, Any], Received]:
        """Check one ingest request against the spec and decide the reply."""
        spec = self.spec
        problems: list[str] = []
        body = raw.decode("utf-8", errors="replace")
        content_type = headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != spec.api.content_type:
            problems.append(f"Content-Type is {content_type!r}, not {spec.api.content_type!r}")
        try:
            parsed = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            parsed = None
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
        for name in parsed:
            if name not in (payload.site_id_field, payload.errors_field):
                problems.append(f"{name} is not a field of the spec")
        site_id = parsed.get(payload.site_id_field)
        site = self.sites.get(site_id) if isinstance(site_id, str) else None
        key = headers.get(spec.api.api_key_header.lower())
        if site is None or key != site.api_key:
            problems.append(f"unknown site {site_id!r} or wrong {spec.api.api_key_header}")
            reply[spec.response.error_field] = spec.response.errors.invalid_site
            return reply, received
        if not site.enabled:
            reply[spec.response.error_field] = spec.response.errors.errors_disabled
            return reply, received
        batch = parsed.get(payload.errors_field)
        if not isinstance(batch, list):
            problems.append(f"{payload.errors_field} is not a list")
            return reply, received
        if not payload.min_errors <= len(batch) <= payload.max_errors:
            problems.append(
                f"{payload.errors_field} has {len(batch)} items, "
                f"not {payload.min_errors} to {payload.max_errors}"
            )
            return reply, received
        valid = 0
        for index, error in enumerate(batch):
            error_problems = _check_error(spec, index, error)
            problems.extend(error_problems)
            valid += not error_problems
        with self._changed:
            if site.quota is not None and valid > site.quota:
                valid = site.quota
                reply[spec.response.limit_reached_field] = True
            if site.quota is not None:
                site.quota -= valid
        reply[accepted_field] = valid
        return reply, received

    def _record(self, received: Received) -> None:
        with self._changed:
            self.received.append(received)
            if self.log_path is not None:
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(received.as_dict(), ensure_ascii=False) + "\n")
            if self.echo is not None:
                self._echo(received)
            self._changed.notify_all()

    def _echo(self, received: Received) -> None:
        assert self.echo is not None
        accepted = received.reply.get(self.spec.response.accepted_field)
        error = received.reply.get(self.spec.response.error_field)
        outcome = f"accepted {accepted}" + (f", {error}" if error else "")
        for problem in received.problems:
            print(f"stub: problem: {problem}", file=self.echo)
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
            print(f"stub: {received.path} {fields} ({outcome})", file=self.echo)
        if not errors:
            print(f"stub: {received.method} {received.path} ({outcome})", file=self.echo)
        self.echo.flush()

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

            def _handle(self) -> None:
                arrived = time.monotonic()
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length > 0 else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                spec = stub.spec
                # A client that goes through a proxy names the whole URL: the stub
                # answers as the proxy and the endpoint at once, and records it.
                path = urlsplit(self.path).path if "://" in self.path else self.path
                path = path.split("?")[0]
                if path != spec.api.path or self.command != spec.api.method:
                    reply: dict[str, Any] = {"error": "not the ingest endpoint"}
                    received = Received(self.command, self.path, headers, "", None, [], reply, 404)
                    received.problems.append(
                        f"{self.command} {self.path} is not the ingest endpoint"
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
                self._send(status, body, extra)

            def _send(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in (extra or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (its timeout); nothing to tell it

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
