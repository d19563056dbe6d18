"""The stub under hostile clients: it always answers, stays bounded, and prints text safely."""

from __future__ import annotations

import contextlib
import io
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.render import Generator
from generator.stub import (
    MAX_BODY_BYTES,
    MAX_CONNECTIONS,
    MAX_JSON_DEPTH,
    MAX_RECORD_BYTES,
    MAX_RECORDS,
    Site,
    Stub,
)
from tests.support import ROOT, post
from tests.test_stub import GOOD_ERROR

INGEST = "/public/errors/ingest"
VALID = json.dumps({"siteId": "s1", "errors": [GOOD_ERROR]}).encode()


def request(
    body: bytes = VALID,
    *,
    method: str = "POST",
    path: str = INGEST,
    headers: tuple[tuple[str, str], ...] = (),
    length: str | None = "auto",
) -> bytes:
    """Raw request bytes; ``length`` "auto" is the body's, None leaves the header out."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append("x-nevision-api-key: k1")
    if length is not None:
        lines.append(f"Content-Length: {len(body) if length == 'auto' else length}")
    lines += [f"{name}: {value}" for name, value in headers]
    return "\r\n".join([*lines, "", ""]).encode("latin-1") + body


def exchange(port: int, data: bytes, timeout: float = 10.0, half_close: bool = True) -> bytes:
    """Send ``data`` on a fresh connection and read until the stub closes it."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        if half_close:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
        chunks: list[bytes] = []
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no answer and no close within {timeout} s: {b''.join(chunks)!r}"
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def statuses(answer: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"^HTTP/1\.1 (\d{3}) ", answer, re.MULTILINE)]


def reply_of(answer: bytes) -> object:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def terminal_safe(text: str) -> bool:
    return all(char == "\n" or char.isprintable() for char in text)


@pytest.fixture
def stub(generator: Generator, tmp_path: Path) -> Iterator[Stub]:
    with Stub(generator.spec, {"s1": Site("k1")}, log_path=tmp_path / "log.jsonl") as running:
        yield running


def test_lone_surrogates_are_answered_echoed_and_logged(
    generator: Generator, tmp_path: Path
) -> None:
    terminal = io.BytesIO()
    echo = io.TextIOWrapper(terminal, encoding="utf-8", write_through=True)
    log = tmp_path / "log.jsonl"
    message = "\ud800 and \udfff é😀"
    body = {"siteId": "s1", "errors": [{**GOOD_ERROR, "message": message}]}
    with Stub(generator.spec, {"s1": Site("k1")}, log_path=log, echo=echo) as stub:
        assert post(stub, body) == (200, {"accepted": 1})
    (line,) = log.read_text(encoding="ascii").splitlines()
    assert json.loads(line)["json"]["errors"][0]["message"] == message
    shown = terminal.getvalue().decode("utf-8")
    assert 'message="\\ud800 and \\udfff é😀"' in shown, shown


def test_echo_to_a_narrow_terminal_escapes_what_it_cannot_show(generator: Generator) -> None:
    terminal = io.BytesIO()
    echo = io.TextIOWrapper(terminal, encoding="ascii", write_through=True)
    body = {"siteId": "s1", "errors": [{**GOOD_ERROR, "message": "é😀"}]}
    with Stub(generator.spec, {"s1": Site("k1")}, echo=echo) as stub:
        assert post(stub, body) == (200, {"accepted": 1})
    assert 'message="\\xe9\\U0001f600"' in terminal.getvalue().decode("ascii")


def test_request_text_reaches_the_terminal_escaped(generator: Generator) -> None:
    echo = io.StringIO()
    hostile = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e"
    with Stub(generator.spec, {"s1": Site("k1")}, echo=echo) as stub:
        on_the_wire = hostile[:-1]  # a request line and headers are Latin-1
        path = "/" + on_the_wire
        assert statuses(exchange(stub.port, request(method="GET", path=path))) == [404]
        body = json.dumps({"siteId": "s1", "errors": [GOOD_ERROR], hostile: 1}).encode()
        headers = (("Content-Type", "text/" + on_the_wire),)
        assert statuses(exchange(stub.port, request(body, headers=headers))) == [200]
        error = {**GOOD_ERROR, "message": hostile, "url": hostile, hostile: hostile}
        body = json.dumps({"siteId": "s1", "errors": [error]}).encode()
        path = INGEST + "?" + on_the_wire
        assert statuses(exchange(stub.port, request(body, path=path))) == [200]
    shown = echo.getvalue()
    assert shown.count("\n") >= 5
    assert terminal_safe(shown), shown
    assert "\\x1b]0;pwned\\x07" in shown


@pytest.mark.parametrize(
    ("length", "status"),
    [
        ("abc", 400),
        ("-1", 400),
        ("+5", 400),
        ("1_0", 400),
        ("0x10", 400),
        ("\u00b2", 400),
        (str(2**62), 413),
        pytest.param("9" * 5000, 413, id="5000-digits"),
        (str(MAX_BODY_BYTES + 1), 413),
    ],
)
def test_a_bad_content_length_is_refused(stub: Stub, length: str, status: int) -> None:
    answer = exchange(stub.port, request(b"{}", length=length))
    assert statuses(answer) == [status], answer
    assert b"Connection: close" in answer
    assert "Content-Length" in str(reply_of(answer)) or "limit" in str(reply_of(answer))
    assert stub.received[-1].status == status
    assert post(stub, json.loads(VALID)) == (200, {"accepted": 1})


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ((("Content-Length", "3"),), 400),  # a second, different Content-Length
        ((("Transfer-Encoding", "chunked"),), 411),
        ((("Expect", "100-continue"), ("Content-Length", "9")), 400),
    ],
)
def test_ambiguous_or_chunked_bodies_are_refused(
    stub: Stub, headers: tuple[tuple[str, str], ...], status: int
) -> None:
    assert statuses(exchange(stub.port, request(b"{}", headers=headers))) == [status]


def test_an_oversized_body_is_refused_before_it_is_read(stub: Stub) -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)
    answer = exchange(stub.port, request(big))
    assert statuses(answer) == [413]
    expect = exchange(stub.port, request(big, headers=(("Expect", "100-continue"),)))
    assert statuses(expect) == [413]  # no 100 Continue first
    # A body of exactly the limit is read and checked.
    fill = MAX_BODY_BYTES - len(json.dumps({"siteId": "s1", "errors": [GOOD_ERROR]}))
    padded = {"siteId": "s1", "errors": [{**GOOD_ERROR, "message": "m" * (fill + 4)}]}
    assert len(json.dumps(padded)) == MAX_BODY_BYTES
    assert post(stub, padded) == (200, {"accepted": 1})


@pytest.mark.parametrize(
    "errors",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000 + b"0" + b"}" * 100_000,
        b"[" * 100_000,
        b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
        b"[" + b"0," * 200_000 + b"0]",
    ],
    ids=["arrays", "objects", "unclosed", "just-too-deep", "too-many-values"],
)
def test_json_too_deep_or_too_large_is_answered_not_parsed(stub: Stub, errors: bytes) -> None:
    body = b'{"siteId": "s1", "errors": ' + errors + b"}"
    answer = exchange(stub.port, request(body))
    assert statuses(answer) == [200]
    assert reply_of(answer) == {"accepted": 0}
    (problem,) = stub.received[-1].problems
    assert "will not parse" in problem or "not valid UTF-8 JSON" in problem, problem
    assert stub.received[-1].json is None


def test_json_as_deep_as_allowed_is_parsed(stub: Stub) -> None:
    depth = MAX_JSON_DEPTH - 1
    body = b'{"siteId": "s1", "errors": ' + b"[" * depth + b"]" * depth + b"}"
    assert statuses(exchange(stub.port, request(body))) == [200]
    assert stub.received[-1].json is not None


def test_a_request_path_that_is_not_a_url_is_not_found(stub: Stub) -> None:
    answer = exchange(stub.port, request(path="http://[::1" + INGEST))
    assert statuses(answer) == [404]


def test_the_record_keeps_the_newest_and_wait_for_counts_arrivals(generator: Generator) -> None:
    with Stub(generator.spec, {"s1": Site("k1")}, max_records=3) as stub:
        for index in range(5):
            body = {"siteId": "s1", "errors": [{**GOOD_ERROR, "message": f"m{index}"}]}
            assert post(stub, body) == (200, {"accepted": 1})
        started = time.monotonic()
        kept = stub.wait_for(5, timeout=5)
        assert time.monotonic() - started < 1
        assert stub.arrivals == 5
        assert [e["message"] for e in stub.errors()] == ["m2", "m3", "m4"]
        assert [r.json["errors"][0]["message"] for r in kept] == ["m2", "m3", "m4"]
        assert len(stub.wait_for(6, timeout=0.2)) == 3
        stub.reset({"s1": Site("k1")})
        assert stub.received == []
        assert stub.arrivals == 0


def test_the_record_is_bounded_in_bytes(stub: Stub) -> None:
    message = "m" * (MAX_BODY_BYTES - 1000)
    for _ in range(24):
        body = {"siteId": "s1", "errors": [{**GOOD_ERROR, "message": message}]}
        assert post(stub, body) == (200, {"accepted": 1})
    kept = stub.wait_for(24, timeout=5)
    assert stub.arrivals == 24
    assert 1 <= len(kept) < 24
    assert sum(len(r.body) for r in kept) <= MAX_RECORD_BYTES
    assert len(kept) <= MAX_RECORDS


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("--delay", "nan"), "Invalid value for '--delay': nan is not a number of seconds"),
        (("--delay", "inf"), "Invalid value for '--delay'"),
        (("--delay", "-1"), "Invalid value for '--delay'"),
        (("--delay", "1e400"), "Invalid value for '--delay'"),
        (("--log", "/nonexistent/x"), "cannot append to the log /nonexistent/x"),
    ],
)
def test_stub_refuses_bad_options_at_start_up(args: tuple[str, ...], text: str) -> None:
    result = cli("stub", "--port", "0", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("nevision-snippets: error: ")
    assert text in result.stderr


def test_half_sent_requests_do_not_hold_threads(generator: Generator) -> None:
    before = threading.active_count()
    with Stub(generator.spec, {"s1": Site("k1")}, read_timeout_s=1.0) as stub:
        half = b"POST /public/errors/ingest HTTP/1.1\r\nContent-Length: 10\r\n"
        sockets = []
        try:
            for _ in range(300):
                sock = socket.create_connection(("127.0.0.1", stub.port), timeout=5)
                sock.sendall(half)
                sockets.append(sock)
            time.sleep(0.3)
            # One thread per connection, at most MAX_CONNECTIONS; the rest were answered 503.
            assert threading.active_count() <= before + 1 + MAX_CONNECTIONS
            deadline = time.monotonic() + 10
            while threading.active_count() > before + 1 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert threading.active_count() <= before + 1
            answers = []
            for sock in sockets:
                sock.settimeout(5)
                with contextlib.suppress(ConnectionResetError):
                    answers.append(sock.recv(65536))
            assert {statuses(answer)[0] for answer in answers if answer} <= {503}
            assert post(stub, json.loads(VALID)) == (200, {"accepted": 1})
        finally:
            for sock in sockets:
                sock.close()


def test_a_body_that_stops_arriving_gets_408(generator: Generator) -> None:
    with Stub(generator.spec, {"s1": Site("k1")}, read_timeout_s=0.5) as stub:
        started = time.monotonic()
        answer = exchange(stub.port, request(b"{}", length="100"), half_close=False)
        assert statuses(answer) == [408]
        assert time.monotonic() - started < 3
        assert exchange(stub.port, request(b"{}", length="100")).startswith(b"HTTP/1.1 400 ")


# ---- fuzz: malformed requests over a raw socket ------------------------------------------

LATIN1 = st.characters(codec="latin-1")
HAZARDS = st.sampled_from(
    ["\x1b[2J", "\x1b]0;x\x07", "\x9b", "\r\n", "\x00", "\ud800", "\udfff", "\u202e", "é😀", "\\"]
)
TEXTS = st.lists(st.one_of(st.text(max_size=8), HAZARDS), max_size=4).map("".join)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXTS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXTS, inner, max_size=4),
    max_leaves=12,
)
ERRORS = st.fixed_dictionaries(
    {},
    optional={name: st.just(value) | JSON_VALUES for name, value in GOOD_ERROR.items()}
    | {"extra": JSON_VALUES},
)
PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "siteId": st.just("s1") | JSON_VALUES,
        "errors": st.lists(ERRORS | JSON_VALUES, max_size=25) | JSON_VALUES,
        "other": JSON_VALUES,
    },
)


def dump(value: object, ascii_only: bool) -> bytes:
    # Not ASCII: lone surrogates become invalid UTF-8 on the wire.
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


BODIES = st.one_of(
    st.binary(max_size=300),
    st.builds(dump, JSON_VALUES, st.booleans()),
    st.builds(dump, PAYLOADS, st.booleans()),
    st.tuples(st.builds(dump, PAYLOADS, st.just(True)), st.integers(0, 300)).map(
        lambda pair: pair[0][: pair[1]]
    ),
    st.integers(1, 100_000).map(lambda n: b'{"siteId":"s1","errors":' + b"[" * n + b"]" * n + b"}"),
    st.integers(1, 100_000).map(lambda n: b"[" * n),
)
LENGTHS = st.one_of(
    st.just("auto"),
    st.none(),
    st.integers(-5, 2**64).map(str),
    st.sampled_from(["abc", "", " 7", "+5", "0x10", "1_0", "\u00b2", "5, 5", str(2**62)]),
    st.text(LATIN1, max_size=8),
)
HEADER_NAMES = st.sampled_from(
    ["Content-Length", "Content-Type", "Transfer-Encoding", "Expect", "Connection", "Host"]
) | st.text(LATIN1, max_size=12)
HEADER_VALUES = st.sampled_from(["chunked", "100-continue", "close", "keep-alive"]) | st.text(
    LATIN1, max_size=40
)


@st.composite
def http_requests(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=600))
    method = draw(
        st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW"])
        | st.text(LATIN1, max_size=8)
    )
    path = draw(
        st.sampled_from(
            [INGEST, INGEST + "?a=1", "http://127.0.0.1" + INGEST, "http://[::1" + INGEST, "*"]
        )
        | st.text(LATIN1, max_size=30)
    )
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "", "HTTP/2.0", "HTTP/x", "a b"]))
    newline = draw(st.sampled_from(["\r\n", "\n"]))
    body: bytes = draw(BODIES)
    length = draw(LENGTHS)
    headers = draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=5))
    filler = draw(st.sampled_from([0, 0, 0, 99, 101]))
    lines = [f"{method} {path} {version}".rstrip(" "), "Content-Type: application/json"]
    lines.append("x-nevision-api-key: k1")
    if length is not None:
        lines.append(f"Content-Length: {len(body) if length == 'auto' else length}")
    lines += [f"{name}: {value}" for name, value in headers]
    lines += ["X-Fill: f"] * filler
    return newline.join([*lines, "", ""]).encode("latin-1") + body


@pytest.fixture(scope="module")
def fuzzed(
    generator: Generator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stub, io.BytesIO]]:
    """A stub for the whole fuzz run, echoing to an ASCII terminal, and that terminal."""
    log = tmp_path_factory.mktemp("fuzz") / "log.jsonl"
    terminal = io.BytesIO()
    echo = io.TextIOWrapper(terminal, encoding="ascii", write_through=True)
    with Stub(generator.spec, {"s1": Site("k1")}, log_path=log, echo=echo) as running:
        yield running, terminal


@settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=http_requests())
def test_malformed_requests_get_an_answer_or_a_clean_close(
    fuzzed: tuple[Stub, io.BytesIO], capsys: pytest.CaptureFixture[str], data: bytes
) -> None:
    stub, _ = fuzzed
    answer = exchange(stub.port, data)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 "), answer[:200]
    assert 500 not in statuses(answer), answer[:500]
    # The stub keeps serving, bounded, and says nothing on stderr.
    assert statuses(exchange(stub.port, request())) == [200]
    assert len(stub.received) <= MAX_RECORDS
    assert sum(len(r.body) for r in stub.received) <= MAX_RECORD_BYTES
    assert capsys.readouterr().err == ""


def test_fuzzed_output_is_terminal_and_json_safe(fuzzed: tuple[Stub, io.BytesIO]) -> None:
    stub, terminal = fuzzed
    assert all(32 <= byte < 127 or byte == 10 for byte in terminal.getvalue())
    assert stub.log_path is not None
    for line in stub.log_path.read_text(encoding="ascii").splitlines():
        json.loads(line)


# ---- memory: the stub as users run it --------------------------------------------------------


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read RSS")
def test_memory_stays_bounded_under_big_and_hostile_bodies() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "generator", "stub", "--port", str(port), "--site", "s1:k1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(ConnectionRefusedError):
                if statuses(exchange(port, request())) == [200]:
                    break
            assert time.monotonic() < deadline, "the stub did not start"
            time.sleep(0.1)
        before = rss_mib(process.pid)
        message = "m" * (MAX_BODY_BYTES - 1000)
        big = json.dumps({"siteId": "s1", "errors": [{**GOOD_ERROR, "message": message}]})
        many = json.dumps({"siteId": "s1", "errors": [GOOD_ERROR] * 1_000_000}).encode()
        for _ in range(30):
            assert statuses(exchange(port, request(big.encode()))) == [200]
        for errors in (b"[{}," * 33_000 + b"{}]", b'[{"":0},' * 500_000 + b"{}]"):
            body = b'{"siteId":"s1","errors":' + errors + b"}"
            assert statuses(exchange(port, request(body[:MAX_BODY_BYTES]))) == [200]
        for size in (100 << 20, 100 << 20, 100 << 20, len(many)):  # announced; 2 MiB sent
            head = request(b"", length=str(size))
            assert statuses(exchange(port, head + many[: 2 << 20])) == [413]
        after = rss_mib(process.pid)
        print(f"stub RSS: {before:.0f} MiB before, {after:.0f} MiB after")
        assert after - before < 250, (before, after)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    assert stderr == ""
