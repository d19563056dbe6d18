"""Both Python variants on paths verify's driver does not take, run for real against the stub.

Logging handlers that fail or report again, multiprocessing children, huge
messages, odd arguments, NO_PROXY with a port, signal handlers that report, the
recursion limit, replies that trickle in, atexit hooks that run after the exit flush,
long cause chains.
"""

from __future__ import annotations

import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.languages import VARIANTS
from generator.render import Generator
from generator.stub import Faults, Site, Stub
from tests.support import generator_for, run_python, spec_variant

SMALL_SPEC = (
    ("queue_size: 1000", "queue_size: 5"),
    ("flush_timeout_ms: 2000", "flush_timeout_ms: 1500"),
    ("max_message_length: 4096", "max_message_length: 64"),
    ("max_stack_length: 32768", "max_stack_length: 2000"),
)
PRELUDE = """\
import json, logging, os, sys, threading, time
import nevision

def boom(message="boom"):
    try:
        raise ValueError(message)
    except ValueError as exc:
        return exc

def done(**figures):
    print(json.dumps(figures), flush=True)
"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Generator:
    return generator_for(spec_variant(tmp_path_factory.mktemp("spec"), *SMALL_SPEC))


@pytest.fixture
def stub(small: Generator) -> Iterator[Stub]:
    with Stub(small.spec, {"s1": Site("k1")}) as running:
        yield running


def run(
    tmp_path: Path,
    generator: Generator,
    stub: Stub,
    variant: str,
    script: str,
    env: dict[str, str] | None = None,
    timeout: float = 30,
) -> dict[str, Any]:
    code = generator.render("python", variant, "s1", "k1", stub.base_url)
    figures, _ = run_python(tmp_path, code, PRELUDE + textwrap.dedent(script), env, timeout)
    return figures


def messages(stub: Stub) -> list[str]:
    return [str(error.get("message")) for error in stub.errors()]


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_failing_log_handler_never_reaches_the_caller(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    stub.faults = Faults(delay_s=0.3)
    figures = run(
        tmp_path,
        small,
        stub,
        variant,
        """
        class Webhook(logging.Handler):
            def emit(self, record):
                raise ConnectionError("webhook down")

        logging.getLogger("nevision").addHandler(Webhook())
        raised = 0
        for index in range(30):  # more than the queue holds: "full" is logged
            try:
                nevision.report_error(boom(f"m{index}"), "/r")
            except Exception:
                raised += 1
        time.sleep(0.5)
        nevision.report_error(boom("after"), "/r")
        done(raised=raised)
        """,
    )
    assert figures["raised"] == 0
    assert "after" in messages(stub)  # the sender outlived the handler


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_handler_that_reports_again_does_not_deadlock(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    stub.faults = Faults(delay_s=0.3)
    figures = run(
        tmp_path,
        small,
        stub,
        variant,
        """
        class ToTracker(logging.Handler):
            def emit(self, record):
                nevision.report_error(RuntimeError(record.getMessage()), "/log")

        logging.getLogger("nevision").addHandler(ToTracker())
        for index in range(30):
            nevision.report_error(boom(f"m{index}"), "/r")
        done(returned=True)
        """,
        timeout=20,
    )
    assert figures["returned"] is True


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_multiprocessing_child_delivers(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    run(
        tmp_path,
        small,
        stub,
        variant,
        """
        import multiprocessing

        def work():
            nevision.report_error(boom("from-child"), "/job")

        if __name__ == "__main__":
            context = multiprocessing.get_context("fork")
            child = context.Process(target=work)
            child.start()
            child.join(10)
            done(exitcode=child.exitcode)
        """,
    )
    assert messages(stub) == ["from-child"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_huge_messages_are_cut_at_the_call(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    run(
        tmp_path,
        small,
        stub,
        variant,
        """
        for index in range(3):
            nevision.report_error(boom(str(index) * 2_000_000), "/r")
        done()
        """,
    )
    errors = stub.errors()
    assert [e["message"] for e in errors] == [str(i) * 64 for i in range(3)]
    assert all(len(e["stack"]) <= 2000 for e in errors)
    if variant == "reporter":  # it cuts each message in the chain before formatting
        assert all(e["stack"].endswith("ValueError: " + e["message"] + "\n") for e in errors)


@pytest.mark.parametrize("variant", VARIANTS)
def test_odd_arguments_are_still_reported(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    run(
        tmp_path,
        small,
        stub,
        variant,
        """
        nevision.report_error("just a string", "/a")
        nevision.report_error(ValueError, "/b")
        nevision.report_error(None, None)
        done()
        """,
    )
    assert sorted(e["type"] for e in stub.errors()) == ["NoneType", "str", "type"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_no_proxy_with_a_port_goes_direct(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    dead = "http://127.0.0.1:9"  # a proxy nothing listens on
    run(
        tmp_path,
        small,
        stub,
        variant,
        """
        nevision.report_error(boom("direct"), "/r")
        done()
        """,
        env={"http_proxy": dead, "HTTP_PROXY": dead, "no_proxy": f"127.0.0.1:{stub.port}"},
    )
    assert messages(stub) == ["direct"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_signal_handler_may_report_while_the_caller_is_reporting(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    figures = run(
        tmp_path,
        small,
        stub,
        variant,
        """
        import faulthandler, signal

        handled = 0

        def on_signal(signum, frame):
            global handled
            handled += 1
            nevision.report_error(boom("from-handler"), "/signal")
            if hasattr(nevision, "flush"):
                nevision.flush(0)

        signal.signal(signal.SIGALRM, on_signal)
        signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
        faulthandler.dump_traceback_later(10, exit=True)  # a deadlock fails the run
        started = time.monotonic()
        while time.monotonic() - started < 2:
            nevision.report_error(boom("main"), "/main")
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        done(handled=handled)
        """,
    )
    assert figures["handled"] > 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_message_whose_text_slices_oddly_costs_only_itself(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    run(
        tmp_path,
        small,
        stub,
        variant,
        """
        class Odd(str):
            def __getitem__(self, key):
                return object()  # a lazy or translated string type may give anything

        class OddError(Exception):
            def __str__(self):
                return Odd("odd")

        nevision.report_error(boom("before"), "/r")
        nevision.report_error(OddError(), "/r")
        nevision.report_error(boom("after"), "/r")
        time.sleep(0.5)
        nevision.report_error(boom("later"), "/r")
        done()
        """,
    )
    assert sorted(messages(stub)) == ["after", "before", "later", "odd"]


def test_the_snippets_sender_outlives_a_surprise(
    tmp_path: Path, small: Generator, stub: Stub
) -> None:
    run(
        tmp_path,
        small,
        stub,
        "snippet",
        """
        original = nevision._send
        calls = []

        def flaky(batch):
            calls.append(batch)
            if len(calls) == 1:
                raise LookupError("a bug, or an object no one expected")
            return original(batch)

        nevision._send = flaky
        nevision.report_error(boom("first"), "/r")
        time.sleep(0.5)
        nevision.report_error(boom("later"), "/r")
        done()
        """,
    )
    assert messages(stub) == ["later"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_report_error_never_raises_near_the_recursion_limit(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    figures = run(
        tmp_path,
        small,
        stub,
        variant,
        """
        import traceback

        escaped = []

        def walk(depth):
            try:
                return walk(depth + 1)
            except RecursionError as exc:
                try:
                    nevision.report_error(exc, "/walk")
                except RecursionError as inner:
                    escaped.append(inner)
                raise

        try:
            walk(0)
        except RecursionError:
            pass
        # A call that cannot even be entered at the limit fails in the caller's frame.
        inside = [
            repr(exc)
            for exc in escaped
            for frame in traceback.extract_tb(exc.__traceback__)
            if frame.filename.endswith("nevision.py")
        ]
        done(inside=inside)
        """,
    )
    assert figures["inside"] == []


class Trickle:
    """An endpoint that answers 200 at once, then its body one byte every 0.2 s."""

    def __init__(self) -> None:
        self.requests = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self.answer, args=(client,), daemon=True).start()

    def answer(self, client: socket.socket) -> None:
        with client:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = client.recv(65536)
                if not chunk:
                    return
                data += chunk
            self.requests += 1
            try:
                client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                while not self.stopped.wait(0.2):
                    client.sendall(b" ")
            except OSError:
                pass

    def close(self) -> None:
        self.stopped.set()
        self.server.close()


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_trickling_reply_is_cut_off_at_the_request_timeout(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, variant: str
) -> None:
    one_second = spec_variant(
        tmp_path_factory.mktemp("spec"), *SMALL_SPEC, ("timeout_ms: 5000", "timeout_ms: 1000")
    )
    trickle = Trickle()
    try:
        code = generator_for(one_second).render(
            "python", variant, "s1", "k1", f"http://127.0.0.1:{trickle.port}"
        )
        script = """
            nevision.report_error(boom("first"), "/r")
            time.sleep(1.5)  # the first request is over by now, its reply cut off
            nevision.report_error(boom("second"), "/r")
            time.sleep(1.0)
            done()
            """
        run_python(tmp_path, code, PRELUDE + textwrap.dedent(script))
    finally:
        trickle.close()
    assert trickle.requests >= 2  # the first request did not hold the sender for ever


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_report_from_an_atexit_hook_run_after_the_exit_flush_is_delivered(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    code = small.render("python", variant, "s1", "k1", stub.base_url)
    script = """
        import atexit, json

        def boom(message):
            try:
                raise ValueError(message)
            except ValueError as exc:
                return exc

        def late():
            import nevision

            nevision.report_error(boom("from-atexit"), "/late")

        atexit.register(late)  # before nevision is imported, so it runs after nevision's hook
        import nevision

        nevision.report_error(boom("from-main"), "/main")
        print(json.dumps({}))
        """
    run_python(tmp_path, code, script)
    assert sorted(messages(stub)) == ["from-atexit", "from-main"]


def test_the_reporter_keeps_little_of_a_long_cause_chain(
    tmp_path: Path, small: Generator, stub: Stub
) -> None:
    stub.faults = Faults(delay_s=2)  # the reports stay queued
    figures = run(
        tmp_path,
        small,
        stub,
        "reporter",
        """
        import gc, tracemalloc

        def chain(links):
            exc = None
            for index in range(links):
                try:
                    raise ValueError(f"link-{index} " + "m" * 20_000) from exc
                except ValueError as caught:
                    exc = caught
            return exc

        tracemalloc.start()
        for _ in range(5):
            exc = chain(500)
            nevision.report_error(exc, "/chain")
            del exc
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
        done(held_mb=held / 1e6)
        """,
    )
    assert figures["held_mb"] < 5  # 500 links of 20 KB each: 10 MB a report if kept
