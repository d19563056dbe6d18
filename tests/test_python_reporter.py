"""The Python reporter variant's promises, run for real in subprocesses against the stub."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.render import Generator
from generator.stub import Faults, Site, Stub
from tests.support import generator_for, run_python, spec_variant

# Small limits keep every behaviour quick to reach.
TEST_SPEC = (
    ("queue_size: 1000", "queue_size: 5"),
    ("flush_timeout_ms: 2000", "flush_timeout_ms: 1500"),
    ("initial_backoff_ms: 500", "initial_backoff_ms: 50"),
    ("max_backoff_ms: 30000", "max_backoff_ms: 100"),
    ("limit_reached_cooldown_ms: 60000", "limit_reached_cooldown_ms: 1500"),
    ("max_message_length: 4096", "max_message_length: 16"),
    ("max_stack_length: 32768", "max_stack_length: 200"),
)

PRELUDE = """\
import json, os, sys, threading, time
import nevision

def boom(message="boom"):
    try:
        raise ValueError(message)
    except ValueError as exc:
        return exc

def done(**figures):
    figures["dropped"] = nevision.dropped()
    print(json.dumps(figures), flush=True)
"""


@pytest.fixture(scope="module")
def small_generator(tmp_path_factory: pytest.TempPathFactory) -> Generator:
    return generator_for(spec_variant(tmp_path_factory.mktemp("spec"), *TEST_SPEC))


@pytest.fixture
def stub(small_generator: Generator) -> Iterator[Stub]:
    with Stub(small_generator.spec, {"s1": Site("k1")}) as running:
        yield running


def run(
    tmp_path: Path,
    generator: Generator,
    stub: Stub,
    script: str,
    env: dict[str, str] | None = None,
    api_key: str = "k1",
) -> tuple[dict[str, Any], str]:
    code = generator.render("python", "reporter", "s1", api_key, stub.base_url)
    return run_python(tmp_path, code, PRELUDE + textwrap.dedent(script), env)


def test_settings_come_from_the_environment_first(
    tmp_path: Path, small_generator: Generator, stub: Stub
) -> None:
    stub.sites["env-site"] = Site("env-key")
    env = {
        "NEVISION_SITE_ID": "env-site",
        "NEVISION_API_KEY": "env-key",
        "NEVISION_ENDPOINT": stub.base_url + "/",
    }
    # The values given at generation point at another stub, which must hear nothing.
    with Stub(small_generator.spec, {"s1": Site("k1")}) as fallback:
        script = "nevision.report_error(boom(), '/a'); nevision.flush(5); done()"
        figures, stderr = run(tmp_path, small_generator, fallback, script, env=env)
    assert fallback.received == []
    assert (figures["dropped"], stderr) == (0, "")
    (request,) = stub.received
    assert request.json["siteId"] == "env-site"
    assert request.headers["x-nevision-api-key"] == "env-key"


def test_retries_then_drops_once_logged(
    tmp_path: Path, small_generator: Generator, stub: Stub
) -> None:
    stub.faults = Faults(status=503)
    figures, stderr = run(
        tmp_path,
        small_generator,
        stub,
        """
        nevision.report_error(boom(), "/a")
        nevision.flush(5)
        nevision.report_error(boom(), "/b")
        nevision.flush(5)
        done()
        """,
    )
    assert len(stub.received) == 2 * small_generator.spec.reporter.retry.attempts
    assert figures["dropped"] == 2
    assert stderr.count("nevision: ") == 1  # one kind of failure, logged once
    assert "HTTP 503" in stderr


def test_invalid_site_stops_sending_for_the_process(
    tmp_path: Path, small_generator: Generator, stub: Stub
) -> None:
    figures, stderr = run(
        tmp_path,
        small_generator,
        stub,
        """
        nevision.report_error(boom(), "/a")
        nevision.flush(5)
        nevision.report_error(boom(), "/b")
        nevision.report_error(boom(), "/c")
        nevision.flush(5)
        done()
        """,
        api_key="wrong",
    )
    assert len(stub.received) == 1
    assert figures["dropped"] == 3
    assert stderr.count("nevision: ") == 1 and "Invalid site" in stderr


def test_limit_reached_pauses_sending(
    tmp_path: Path, small_generator: Generator, stub: Stub
) -> None:
    stub.sites["s1"] = Site("k1", quota=1)
    figures, _ = run(
        tmp_path,
        small_generator,
        stub,
        """
        nevision.report_error(boom(), "/a"); nevision.flush(5)
        nevision.report_error(boom(), "/b"); nevision.report_error(boom(), "/c")
        nevision.flush(5)
        nevision.report_error(boom(), "/d")
        paused = not nevision.flush(1.0)
        nevision.flush(5)
        done(paused=paused)
        """,
    )
    routes = [error["url"] for error in stub.errors()]
    assert routes == ["/a", "/b", "/c", "/d"]
    assert stub.received[-1].reply == {"accepted": 0, "limitReached": True}
    assert figures["paused"] is True  # nothing went out within the 1.5 s cool-down
    assert figures["dropped"] == 3  # /b and /c hit the limit; /d came back with it too


def test_a_full_queue_drops_the_newest_and_counts(
    tmp_path: Path, small_generator: Generator, stub: Stub
) -> None:
    stub.faults = Faults(delay_s=0.3)
    figures, _ = run(
        tmp_path,
        small_generator,
        stub,
        """
        for i in range(30):
            nevision.report_error(boom(f"e{i}"), "/burst")
        nevision.flush(10)
        done()
        """,
    )
    delivered = [error["message"] for error in stub.errors()]
    assert figures["dropped"] > 0
    assert len(delivered) + figures["dropped"] == 30
    assert delivered == sorted(delivered, key=lambda m: int(m[1:]))  # oldest kept, in order
    assert delivered[0] == "e0"


def test_message_and_stack_are_capped(
    tmp_path: Path, small_generator: Generator, stub: Stub
) -> None:
    run(
        tmp_path,
        small_generator,
        stub,
        "nevision.report_error(boom('x' * 100), '/a'); nevision.flush(5); done()",
    )
    (error,) = stub.errors()
    assert error["message"] == "x" * 16
    # The message is cut inside the stack too, and a long stack keeps its end.
    assert len(error["stack"]) <= 200
    assert error["stack"].endswith("ValueError: " + "x" * 16 + "\n")


def test_no_thread_at_import_and_a_fork_gets_its_own_worker(
    tmp_path: Path, small_generator: Generator, stub: Stub
) -> None:
    figures, stderr = run(
        tmp_path,
        small_generator,
        stub,
        """
        threads_at_import = threading.active_count()
        nevision.report_error(boom("parent"), "/p")
        nevision.flush(5)
        pid = os.fork()
        if pid == 0:
            nevision.report_error(boom("child"), "/c")
            ok = nevision.flush(5)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        done(threads_at_import=threads_at_import, child_status=status)
        """,
    )
    assert figures["threads_at_import"] == 1
    assert figures["child_status"] == 0
    assert sorted(error["message"] for error in stub.errors()) == ["child", "parent"]
    assert stderr == ""


def test_the_reporter_never_reports_itself(
    tmp_path: Path, small_generator: Generator, stub: Stub
) -> None:
    figures, _ = run(
        tmp_path,
        small_generator,
        stub,
        """
        original = nevision._payload_error

        def noisy(item):
            nevision.report_error(RuntimeError("from the worker"), "/inner")
            return original(item)

        nevision._payload_error = noisy
        nevision.report_error(boom("outer"), "/outer")
        nevision.flush(5)
        time.sleep(0.2)
        done()
        """,
    )
    assert [error["message"] for error in stub.errors()] == ["outer"]
    assert figures["dropped"] == 0


def test_exit_flush_is_bounded_and_says_what_was_lost(
    tmp_path: Path, small_generator: Generator, stub: Stub
) -> None:
    stub.faults = Faults(delay_s=4)
    started = time.monotonic()
    figures, stderr = run(
        tmp_path, small_generator, stub, "nevision.report_error(boom(), '/a'); done()"
    )
    assert time.monotonic() - started < small_generator.spec.reporter.flush_timeout_ms / 1000 + 1.5
    assert stderr.count("nevision: ") == 1
    assert "not delivered before exit" in stderr
    assert figures["dropped"] == 0  # counted only once the worker gives up, after exit
