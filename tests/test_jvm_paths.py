"""Java and Kotlin, both variants, on paths verify's driver does not take.

A first report made from a shutdown hook (no exit wait was set up for it), and an
exception whose overrides return null: in Java toString() and frames, in Kotlin the
stack trace.
Each is built with the toolchain verify uses, beside a program of its own.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.languages import LANGUAGES, VARIANTS
from generator.render import Generator
from generator.stub import Faults, Site, Stub
from generator.toolchains import Unavailable
from generator.verify import API_KEY, SITE_ID, Harness, Run, running
from tests.support import require_toolchain

JAVA = """\
public final class Driver {
    /** An exception as odd as a JVM allows: a null toString() and null frames. */
    static final class OddException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        OddException() {
            super("odd");
        }

        @Override
        public String toString() {
            return null;
        }

        @Override
        public StackTraceElement[] getStackTrace() {
            return new StackTraceElement[] {null, null};
        }
    }

    public static void main(String[] args) {
        if (args[0].equals("hook")) {
            IllegalStateException error = new IllegalStateException("from a shutdown hook");
            Thread hook = new Thread(() -> Nevision.report(error, "/hook"));
            Runtime.getRuntime().addShutdownHook(hook);
        } else {
            Nevision.report(new OddException(), "/odd");
            Nevision.report(new IllegalStateException("after the odd one"), "/odd");
        }
    }
}
"""

KOTLIN = """\
/** As odd as Kotlin allows: a null stack trace, as a Java subclass may give. */
class OddException : RuntimeException("odd") {
    override fun getStackTrace(): Array<StackTraceElement>? = null
}

fun main(args: Array<String>) {
    if (args[0] == "hook") {
        val error = IllegalStateException("from a shutdown hook")
        val hook = Thread { Nevision.report(error, "/hook") }
        Runtime.getRuntime().addShutdownHook(hook)
    } else {
        Nevision.report(OddException(), "/odd")
        Nevision.report(IllegalStateException("after the odd one"), "/odd")
    }
}
"""

PROGRAMS = {"java": ("Driver.java", JAVA), "kotlin": ("Driver.kt", KOTLIN)}


class Built:
    def __init__(self, harness: Harness, run: list[str], stub: Stub) -> None:
        self.harness, self.command, self.stub = harness, run, stub

    def run(self, case: str, faults: Faults | None = None) -> Run:
        self.stub.reset({SITE_ID: Site(API_KEY)}, faults)
        return self.harness.run(self.command, (case,))


@pytest.fixture(
    scope="module",
    params=[(lang, variant) for lang in PROGRAMS for variant in VARIANTS],
    ids=[f"{lang}-{variant}" for lang in PROGRAMS for variant in VARIANTS],
)
def built(generator: Generator, request: pytest.FixtureRequest) -> Iterator[Built]:
    name, variant = request.param
    language = LANGUAGES[name]
    stub = Stub(generator.spec, {SITE_ID: Site(API_KEY)})
    with tempfile.TemporaryDirectory(prefix=f"nevision-{name}-") as folder, running(stub):
        harness = Harness(generator, language, variant, Path(folder))
        harness.write_sources(stub)
        filename, program = PROGRAMS[name]
        (Path(folder) / filename).write_text(program, encoding="utf-8")
        try:
            build = harness.prepare()
        except Unavailable as exc:
            require_toolchain(name, str(exc))
        harness.build(build.steps)
        yield Built(harness, build.run, stub)


def messages(stub: Stub) -> list[str]:
    return sorted(str(e.get("message")) for e in stub.errors())


def test_a_first_report_from_a_shutdown_hook_is_delivered(built: Built) -> None:
    run = built.run("hook")
    built.stub.wait_for(1, timeout=3)
    assert messages(built.stub) == ["from a shutdown hook"], run.stderr
    assert run.returncode == 0


def test_a_shutdown_hook_report_waits_boundedly_and_says_so(built: Built) -> None:
    run = built.run("hook", Faults(delay_s=30))
    spec = built.harness.spec
    bound = (
        spec.reporter.flush_timeout_ms
        if built.harness.variant == "reporter"
        else spec.api.timeout_ms
    ) / 1000
    took = (run.ended_ms - run.started_ms) / 1000
    assert took < bound + 3.0, f"the exit took {took:.1f} s with a bound of {bound:g} s"
    lines = [line for line in run.stderr.splitlines() if "nevision" in line]
    assert len(lines) == 1, run.stderr


def test_null_overrides_still_report(built: Built) -> None:
    run = built.run("odd")
    built.stub.wait_for(2, timeout=3)
    assert messages(built.stub) == ["after the odd one", "odd"], run.stderr
