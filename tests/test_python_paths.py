"""Both Python variants on paths verify's driver does not take, run for real against the stub.

Logging handlers that fail or report again, multiprocessing children, huge
messages, odd arguments, NO_PROXY with a port.
"""

from __future__ import annotations

import textwrap
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
