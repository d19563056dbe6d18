"""The generated Python snippet, run for real in a subprocess against the stub."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator import literals
from generator.render import Generator
from generator.stub import Faults, Site, Stub
from tests.support import HOSTILE_KEY, HOSTILE_TEXT, generator_for, spec_variant

TIMEOUT_S = 1.5  # a short spec timeout keeps the fault cases quick
ROUTE = '/checkout?item="a b"&x=$y'
CALL_BUDGET_S = 0.1  # the report call must not wait for the network
EXIT_MARGIN_S = 1.5  # interpreter start-up and shutdown on a loaded machine

DRIVER = """\
import json
import sys
import time

from nevision import report_error

MESSAGE = {message}
ROUTE = {route}
COUNT = {count}


def level3(index):
    raise ValueError(MESSAGE)  # raise-line


def level2(index):
    level3(index)


def level1(index):
    level2(index)


def main():
    started = time.time()
    slowest = 0.0
    for index in range(COUNT):
        try:
            try:
                level1(index)
            except ValueError as exc:
                before = time.perf_counter()
                report_error(exc, ROUTE)
                slowest = max(slowest, time.perf_counter() - before)
                raise
        except ValueError as reraised:
            assert str(reraised) == MESSAGE, "the original exception was replaced"
    print(json.dumps({{"slowest_call": slowest, "started_ms": int(started * 1000)}}))


if __name__ == "__main__":
    main()
"""


@dataclass
class Run:
    report: dict[str, Any]
    stderr: str
    seconds: float
    driver: Path


@pytest.fixture(scope="module")
def fast_generator(tmp_path_factory: pytest.TempPathFactory) -> Generator:
    folder = tmp_path_factory.mktemp("spec")
    return generator_for(
        spec_variant(folder, ("timeout_ms: 5000", f"timeout_ms: {TIMEOUT_S * 1000:.0f}"))
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_driver(
    tmp_path: Path,
    generator: Generator,
    base_url: str,
    site_id: str = "s1",
    api_key: str = "k1",
    count: int = 1,
) -> Run:
    code = generator.render("python", site_id=site_id, api_key=api_key, endpoint=base_url)
    (tmp_path / "nevision.py").write_text(code, encoding="utf-8")
    driver = tmp_path / "driver.py"
    driver.write_text(
        DRIVER.format(
            message=literals.python_literal(HOSTILE_TEXT),
            route=literals.python_literal(ROUTE),
            count=count,
        ),
        encoding="utf-8",
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "driver.py"], cwd=tmp_path, capture_output=True, timeout=60
    )
    seconds = time.monotonic() - started
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 0, stderr
    return Run(json.loads(result.stdout), stderr, seconds, driver)


@pytest.fixture
def stub(fast_generator: Generator) -> Iterator[Stub]:
    with Stub(fast_generator.spec, {"s1": Site("k1"), HOSTILE_TEXT: Site(HOSTILE_KEY)}) as running:
        yield running


def test_hostile_message_arrives_byte_exact_with_every_field(
    tmp_path: Path, fast_generator: Generator, stub: Stub
) -> None:
    run = run_driver(tmp_path, fast_generator, stub.base_url, HOSTILE_TEXT, HOSTILE_KEY)
    (request,) = stub.wait_for(1)
    assert request.problems == []
    assert request.headers["x-nevision-api-key"] == HOSTILE_KEY
    assert request.json["siteId"] == HOSTILE_TEXT
    (error,) = request.json["errors"]
    assert error["type"] == "ValueError"
    assert error["message"] == HOSTILE_TEXT
    assert error["stack"].startswith("Traceback (most recent call last):\n")
    assert error["stack"].endswith(f"ValueError: {HOSTILE_TEXT}\n")
    assert "in level1" in error["stack"] and "in level3" in error["stack"]
    assert error["fingerprint"] == f"ValueError:{ROUTE}"
    assert error["url"] == ROUTE
    assert error["filename"] == str(run.driver)
    raise_line = (
        run.driver.read_text().splitlines().index("    raise ValueError(MESSAGE)  # raise-line")
    )
    assert error["lineno"] == raise_line + 1
    assert run.report["started_ms"] <= error["timestamp"] <= time.time() * 1000
    assert run.report["slowest_call"] < CALL_BUDGET_S
    assert run.stderr == ""


def test_reports_share_requests_up_to_the_batch_limit(
    tmp_path: Path, fast_generator: Generator, stub: Stub
) -> None:
    stub.faults = Faults(delay_s=0.05)  # reports made meanwhile queue up
    run_driver(tmp_path, fast_generator, stub.base_url, count=45)
    sizes = [len(request.json["errors"]) for request in stub.received]
    assert sum(sizes) == 45
    assert max(sizes) <= 20
    assert len(sizes) < 45, "reports made during a send should share the next request"
    assert all(request.problems == [] for request in stub.received)


FAULTS = {
    "endpoint down": None,
    "slower than the timeout": Faults(delay_s=TIMEOUT_S + 3),
    "HTTP 500": Faults(status=500, body=b"<h1>Internal Server Error</h1>"),
    "reply not JSON": Faults(body=b"<html>ok</html>"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_faults_leave_the_caller_unharmed_and_unblocked(
    tmp_path: Path, fast_generator: Generator, stub: Stub, fault: str
) -> None:
    faults = FAULTS[fault]
    if faults is None:
        base_url = f"http://127.0.0.1:{closed_port()}"
    else:
        stub.faults = faults
        base_url = stub.base_url
    run = run_driver(tmp_path, fast_generator, base_url)
    assert run.report["slowest_call"] < CALL_BUDGET_S
    assert run.seconds < TIMEOUT_S + EXIT_MARGIN_S
    assert run.stderr.count("nevision: ") == 1, run.stderr
    assert "Traceback" not in run.stderr


def test_a_rejected_report_is_logged_once(
    tmp_path: Path, fast_generator: Generator, stub: Stub
) -> None:
    run = run_driver(tmp_path, fast_generator, stub.base_url, api_key="wrong")
    assert run.stderr.count("nevision: ") == 1
    assert "Invalid site" in run.stderr


def test_importing_starts_nothing(tmp_path: Path, generator: Generator) -> None:
    (tmp_path / "nevision.py").write_text(generator.render("python"), encoding="utf-8")
    probe = "import threading, nevision; print(threading.active_count())"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "1\n", "")
