"""Build and run every generated reporter for real against the local stub.

For each language and variant: render the code with its endpoint on the stub,
build it beside a driver program (templates/<lang>/driver.<ext>.j2) with
warnings as errors, run the driver, and check what the stub received. Then
run the fault cases. The driver raises a real exception a few calls deep with
a hostile message, calls the public function, prints one line of JSON
(``call_ms``, ``main_end_ms`` and the fields it expects, as hex of UTF-8) and
returns from main at once, as real programs do. The exception's type is not
taken from the driver: it must be the toolchain's ``driver_type``, the
exception's name by the spec's definition.

Given a case name as its one argument, the driver instead walks one of the
paths real applications take (null or odd arguments, accessors that throw, a
poisoned batch, explicit exit, a crash, fork, a storm of reports) and prints
one line of JSON before it returns, exits or rethrows: ``call_ms`` (its longest
report call), ``main_end_ms`` and ``reports``. Each case then asserts a promise
from what the stub (or a second server, a proxy) received, the exit code and
the time the process took to end, so any correct implementation passes.
"""

from __future__ import annotations

import email.utils
import json
import os
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generator.languages import LANGUAGES, Language, get_language
from generator.render import Generator
from generator.stub import Faults, Site, Stub
from generator.toolchains import TOOLCHAINS, Build, Unavailable

#: A message that breaks naive escaping in every target language.
MESSAGE = "q\"b\\n\n\tz\0\x01\x1b\x7f é😀\u2028\u2029 $x ${x} \\(x) {$x} #{x} %s %d %n 's */ ?> {0}"
ROUTE = '/checkout?item="a b"&x=$y'
SITE_ID = 'site-"verify"-$x-é'
API_KEY = "key-'verify'-$x-\\(y)"

#: The report call must not wait for the network: budget per language (seconds).
CALL_BUDGET_S = {
    **{"python": 0.1, "php": 0.1, "node": 0.1, "go": 0.1, "ruby": 0.1},
    **{"java": 1.0, "kotlin": 1.0, "csharp": 1.0, "swift": 1.0},
}
#: After main returns, the process may take the spec's timeout plus this.
EXIT_MARGIN_S = 1.5
#: The slow endpoint answers this long after the client's timeout.
SLOW_EXTRA_S = 3.0

PASSED, FAILED, SKIPPED, PARSE_PASSED = "passed", "failed", "skipped", "parse-passed"
#: A check that does not apply to the language (fork where it has none).
NOT_APPLICABLE = "n/a"
FAULT_CHECKS = ("down", "slow", "http 500", "not json", "invalid site")
#: The paths real applications take, each run by the driver with the case's name.
CASE_CHECKS = (
    "null route",
    "null error",
    "bad message",
    "poisoned",
    "exit",
    "crash",
    "fork",
    "storm",
    "huge reply",
    "trickle",
    "redirect 302",
    "redirect 307",
    "429",
    "429 date",
    "proxy",
)
CHECKS = ("parse", "build", "round trip", *FAULT_CHECKS, *CASE_CHECKS)

#: Reports in the storm case, and how long the stub holds its first request meanwhile.
STORM_REPORTS = 2000
STORM_HOLD_S = 1.0
#: Threads the storm may add to what the process had before its first report.
STORM_THREADS = 4
#: The reply of a hostile endpoint in the huge reply case: far more than the socket
#: buffers hold, so the stub can tell a reporter that read it whole.
HUGE_REPLY_BYTES = 128 * 1024 * 1024
#: The trickle case: the first reply sends a byte every half second for this many request
#: timeouts, and the driver's second report comes LATE_EXTRA_MS after one timeout.
TRICKLE_TIMEOUTS = 3
LATE_EXTRA_MS = 1500
#: Retry-After in the 429 cases: seconds, and an HTTP date this far ahead (whole seconds,
#: so the pause is at least one second less); the slack allowed on the pause. The
#: reporter's retry must still fit in its exit flush.
RETRY_AFTER_S = 1
RETRY_AFTER_DATE_S = 1.5
PAUSE_SLACK_S = 0.1
#: The longest a buffered report waits for its batch in verify's builds (PHP, which has no
#: background sender, sends at the next report call after this): the cases' reports a
#: few hundred milliseconds apart then travel in requests of their own.
VERIFY_BATCH_WAIT_MS = 200
#: Environment variables that would change where a driver sends: cleared for every run.
_SCRUBBED_ENV = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "java_tool_options")


@dataclass
class Outcome:
    check: str
    status: str
    detail: str = ""


@dataclass
class Report:
    language: str
    variant: str
    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, check: str, status: str, detail: str = "") -> None:
        self.outcomes.append(Outcome(check, status, detail))

    @property
    def ok(self) -> bool:
        return all(o.status != FAILED for o in self.outcomes)


class CheckFailed(Exception):
    pass


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    started_ms: float
    ended_ms: float
    driver: dict[str, Any] | None
    #: Largest resident set and thread count seen in /proc while it ran (0 if unknown).
    peak_rss_kb: int = 0
    peak_threads: int = 0


def _proc_status(pid: int) -> tuple[int, int]:
    """``(VmRSS in kB, Threads)`` of a live process, or zeros where /proc cannot tell."""
    rss = threads = 0
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return rss, threads


def _run_env(extra: dict[str, str] | None) -> dict[str, str]:
    """This process's environment without proxy or reporter settings, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in _SCRUBBED_ENV and not key.startswith("NEVISION_")
    }
    env.update(extra or {})
    return env


def _unhex(value: str) -> str:
    return bytes.fromhex(value).decode("utf-8")


def parse_check(language: Language, files: dict[str, str]) -> Outcome:
    """Parse each file with the language's tree-sitter grammar."""
    try:
        from generator.syntax import parse_problems
    except ImportError as exc:
        hint = "pip install 'nevision-snippets[verify]'"
        return Outcome("parse", SKIPPED, f"tree-sitter is not installed ({exc.name}); {hint}")
    for name, code in files.items():
        problems = parse_problems(language, code)
        if problems:
            return Outcome("parse", FAILED, f"{name}: " + "; ".join(problems[:3]))
    return Outcome("parse", PASSED)


class Harness:
    """Runs the checks for one language and variant."""

    def __init__(self, generator: Generator, language: Language, variant: str, work: Path):
        self.generator = generator
        self.spec = generator.spec
        self.language = language
        self.variant = variant
        self.work = work
        self.toolchain = TOOLCHAINS[language.name]
        self.timeout_s = self.spec.api.timeout_ms / 1000

    def write_sources(self, stub: Stub, program: str | None = None) -> dict[str, str]:
        """Write the code, pointed at ``stub``, and the program that drives it; return both."""
        language = self.language
        code = self.generator.render(language.name, self.variant, SITE_ID, API_KEY, stub.base_url)
        files = {language.filename: code, self.toolchain.driver_file: self.driver_code(program)}
        for name, text in files.items():
            (self.work / name).write_text(text, encoding="utf-8")
        return files

    def prepare(self) -> Build:
        """How to build and run here; raises Unavailable when the toolchain is missing."""
        return self.toolchain.prepare(self.work, self.spec, self.language.filename)

    def driver_code(self, template: str | None = None) -> str:
        context = {
            "language": self.language,
            "variant": self.variant,
            "message": MESSAGE,
            "route": ROUTE,
            # two-late: a request of the first report could have timed out by the second.
            "late_gap_ms": self.spec.api.timeout_ms + LATE_EXTRA_MS,
            "generated": self.language.file_stem,
            "generated_file": self.language.filename,
        }
        name = template or self.language.driver_template
        return self.generator.render_template(self.language, name, context)

    def run(
        self, command: list[str], args: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> Run:
        """Run the driver to its end, sampling its memory and threads; parse its JSON line."""
        limit = self.timeout_s + SLOW_EXTRA_S + 30
        started = time.time() * 1000
        peak_rss = peak_threads = 0
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            process = subprocess.Popen(
                [*command, *args],
                cwd=self.work,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=_run_env(env),
            )
            deadline = time.monotonic() + limit
            while process.poll() is None:
                rss, threads = _proc_status(process.pid)
                peak_rss, peak_threads = max(peak_rss, rss), max(peak_threads, threads)
                if time.monotonic() > deadline:
                    process.kill()
                    process.wait()
                    raise CheckFailed(f"the driver was still running after {limit:.0f} s")
                time.sleep(0.01)
            ended = time.time() * 1000
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
        driver = None
        for line in stdout.splitlines():
            if line.startswith("{"):
                with suppress(ValueError):
                    driver = json.loads(line)
        return Run(
            process.returncode, stdout, stderr, started, ended, driver, peak_rss, peak_threads
        )

    def check_run(self, run: Run, returncode: int | None = 0) -> str:
        """What every case asks: no exception, a quick call, a prompt exit; the figures.

        ``returncode`` is the exit code the driver must end with; None for any but 0.
        """
        ok = run.returncode != 0 if returncode is None else run.returncode == returncode
        if not ok or run.driver is None:
            tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
            want = "non-zero" if returncode is None else str(returncode)
            raise CheckFailed(
                f"driver exited {run.returncode} (expected {want}): {' | '.join(tail)}"
            )
        call_s = run.driver["call_ms"] / 1000
        budget = CALL_BUDGET_S.get(self.language.name, 1.0)
        if call_s > budget:
            raise CheckFailed(f"the report call took {call_s:.3f} s (budget {budget} s)")
        exit_s = (run.ended_ms - run.driver["main_end_ms"]) / 1000
        if exit_s > self.timeout_s + EXIT_MARGIN_S:
            raise CheckFailed(
                f"exit took {exit_s:.2f} s after main returned "
                f"(limit {self.timeout_s + EXIT_MARGIN_S:.1f} s)"
            )
        return f"call {call_s * 1000:.1f} ms, exit {exit_s:.2f} s"

    def check_log(self, run: Run, lines: int, at_most: bool = False) -> None:
        logged = [line for line in run.stderr.splitlines() if "nevision: " in line]
        if len(logged) > lines if at_most else len(logged) != lines:
            most = "at most " if at_most else ""
            raise CheckFailed(f"expected {most}{lines} 'nevision: ' log line(s), got: {logged}")

    def build(self, steps: list[list[str]]) -> str:
        started = time.monotonic()
        for step in steps:
            result = subprocess.run(
                step, cwd=self.work, capture_output=True, text=True, timeout=600
            )
            if result.returncode != 0:
                lines = (result.stdout + result.stderr).strip().splitlines()
                raise CheckFailed(f"{Path(step[0]).name}: {' | '.join(lines[:4])}")
        return f"{time.monotonic() - started:.1f} s"

    def check_round_trip(self, stub: Stub, command: list[str]) -> str:
        run = self.run(command)
        figures = self.check_run(run)
        received = stub.wait_for(1, timeout=2)
        if len(received) != 1:
            raise CheckFailed(f"the stub got {len(received)} requests, expected 1")
        (request,) = received
        if request.problems:
            raise CheckFailed("; ".join(request.problems[:3]))
        payload, api = self.spec.payload, self.spec.api
        key = request.headers.get(api.api_key_header.lower())
        if key != API_KEY:
            raise CheckFailed(f"{api.api_key_header} header is {key!r}")
        body = request.json
        if body[payload.site_id_field] != SITE_ID:
            raise CheckFailed(f"{payload.site_id_field} is {body[payload.site_id_field]!r}")
        errors = body[payload.errors_field]
        if len(errors) != 1:
            raise CheckFailed(f"the request holds {len(errors)} errors, expected 1")
        error = errors[0]
        assert run.driver is not None
        expected = {
            # Fixed per language, so the code cannot agree with its driver and not the spec.
            "exception_type": self.toolchain.driver_type,
            "message": _unhex(run.driver["message"]),
            "route": ROUTE,
        }
        # A driver leaves out what it cannot know exactly (Swift's stack is taken
        # inside the reporter); such a field must then only be a non-empty string.
        for source in ("stack", "filename"):
            if source in run.driver:
                expected[source] = _unhex(run.driver[source])
        if "lineno" in run.driver:
            expected["lineno"] = run.driver["lineno"]
        if expected["message"] != MESSAGE:
            raise CheckFailed("the driver's message is not the hostile message")
        expected["fingerprint"] = self.spec.fingerprint.separator.join(
            expected[part] for part in self.spec.fingerprint.parts
        )
        for spec_field in payload.error_fields:
            if spec_field.source == "timestamp_ms":
                value = error.get(spec_field.name)
                if not run.started_ms - 1000 <= value <= run.ended_ms + 1000:
                    raise CheckFailed(f"{spec_field.name} {value} is not the time of the report")
            elif spec_field.source == "stack" and "stack" not in expected:
                value = error.get(spec_field.name)
                if not isinstance(value, str) or not value:
                    raise CheckFailed(f"{spec_field.name} is {json.dumps(value)[:80]}")
            elif spec_field.source in expected:
                want = expected[spec_field.source]
                got = error.get(spec_field.name)
                if got != want:
                    sent, wanted = json.dumps(got)[:80], json.dumps(want)[:80]
                    raise CheckFailed(f"{spec_field.name}: sent {sent}, expected {wanted}")
        self.check_log(run, lines=0)
        return figures

    def check_fault(self, command: list[str]) -> str:
        run = self.run(command)
        figures = self.check_run(run)
        self.check_log(run, lines=1)
        return figures


def _http_date(seconds_from_now: float) -> Callable[[], str]:
    """A Retry-After value as an HTTP date, computed when the reply is sent."""
    return lambda: email.utils.formatdate(time.time() + seconds_from_now, usegmt=True)


class Cases:
    """The paths real applications take: each runs the driver with a case name.

    Every case resets the stub, runs the driver, and asserts a promise from what
    arrived where, the exit code and the time the process took to end.
    """

    def __init__(self, harness: Harness, stub: Stub, build: Build) -> None:
        self.harness = harness
        self.stub = stub
        self.build = build
        spec = harness.spec
        self.spec = spec
        message = spec.payload.field_for("message")
        # The cases tell reports apart by message; a spec without one fails them.
        self.message_field = message.name if message is not None else ""

    def sites(self) -> dict[str, Site]:
        return {SITE_ID: Site(API_KEY)}

    def run(
        self,
        case: str,
        faults: Faults | None = None,
        returncode: int | None = 0,
        env: dict[str, str] | None = None,
        stub: Stub | None = None,
        sites: dict[str, Site] | None = None,
    ) -> tuple[Run, str]:
        """Run the driver with ``case`` after resetting the stub to ``sites`` and ``faults``."""
        (stub or self.stub).reset(self.sites() if sites is None else sites, faults)
        run = self.harness.run(self.build.run, (case,), env)
        figures = self.harness.check_run(run, returncode)
        return run, figures

    def messages(self, stub: Stub | None = None) -> Counter[str]:
        """How many times each message arrived (requests with problems fail the case)."""
        stub = stub or self.stub
        problems = [p for r in stub.received for p in r.problems]
        if problems:
            raise CheckFailed("; ".join(problems[:3]))
        field_name = self.message_field
        if not field_name:
            raise CheckFailed("the spec sends no message field")
        status, refused = self.spec.response.status, self.spec.response.error_field
        return Counter(
            str(error.get(field_name))
            for request in list(stub.received)
            if request.status == status and refused not in request.reply
            for error in stub.errors_of(request)
        )

    def wait_messages(self, wanted: list[str], stub: Stub | None = None) -> Counter[str]:
        """Wait briefly for ``wanted`` to arrive; fail naming what is missing or doubled."""
        stub = stub or self.stub
        deadline = time.monotonic() + 2
        while True:
            got = self.messages(stub)
            if all(got[m] >= 1 for m in wanted) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        missing = [m for m in wanted if got[m] == 0]
        doubled = [m for m in wanted if got[m] > 1]
        if missing or doubled:
            raise CheckFailed(f"missing {missing}, sent more than once {doubled}; got {dict(got)}")
        return got

    def reports(self, run: Run, case: str) -> list[str]:
        assert run.driver is not None
        count = run.driver.get("reports")
        if not isinstance(count, int) or count < 1:
            raise CheckFailed(f"the driver made {count!r} reports")
        return [f"{case}-{i}" for i in range(count)]

    # -- odd arguments -------------------------------------------------------

    def null_route(self) -> str:
        run, figures = self.run("null-route")
        self.wait_messages(self.reports(run, "null-route"))
        self.harness.check_log(run, lines=0)
        return figures

    def null_error(self) -> str:
        # A null exception (a future that succeeded, a Java caller): then a plain one.
        run, figures = self.run("null-error")
        self.wait_messages(["null-error-1"])
        self.harness.check_log(run, lines=1, at_most=True)
        return figures

    def bad_message(self) -> str:
        _run, figures = self.run("bad-message")
        self.stub.wait_for(1, timeout=2)
        errors = self.stub.errors()
        self.messages()  # no request may have problems
        if len(errors) != 1:
            raise CheckFailed(f"{len(errors)} errors arrived, expected 1")
        return figures

    def poisoned(self) -> str:
        run, figures = self.run("poisoned")
        self.wait_messages([f"poisoned-{i}" for i in range(5)])
        self.harness.check_log(run, lines=1, at_most=True)
        return figures

    # -- exits -----------------------------------------------------------------

    def explicit_exit(self) -> str:
        _run, figures = self.run("exit", returncode=3)
        self.wait_messages(["exit-0"])
        return figures + ", exit code 3 kept"

    def crash(self) -> str:
        run, figures = self.run("crash", returncode=None)
        self.wait_messages(["crash-0"])
        if "crash-0" not in run.stderr:
            raise CheckFailed("the uncaught exception is not on stderr")
        return figures + f", exit code {run.returncode} kept"

    def fork(self) -> str:
        # The parent's first request is still being answered when it forks.
        _run, figures = self.run("fork", Faults(delay_s=0.5, first=1))
        self.wait_messages(["fork-parent", "fork-child"])
        return figures

    # -- bounded -----------------------------------------------------------------

    def storm(self) -> str:
        run, figures = self.run("storm", Faults(delay_s=STORM_HOLD_S, first=1))
        assert run.driver is not None
        got = self.messages()
        delivered = sum(got[f"storm-{i}"] for i in range(STORM_REPORTS))
        doubled = [m for m, n in got.items() if n > 1]
        bound = self.spec.client.queue_size + 2 * self.spec.payload.max_errors
        if doubled:
            raise CheckFailed(f"sent more than once: {doubled[:5]}")
        if not 1 <= delivered <= bound:
            raise CheckFailed(
                f"{delivered} of {STORM_REPORTS} reports delivered: the queue is not bounded "
                f"by {self.spec.client.queue_size} (at most {bound} may arrive)"
            )
        before, most = run.driver.get("threads_before"), run.driver.get("threads_max")
        if not isinstance(before, int) or not isinstance(most, int):
            raise CheckFailed(f"the driver counted threads {before!r} and {most!r}")
        if most - before > STORM_THREADS:
            raise CheckFailed(f"threads grew from {before} to {most} during the storm")
        return (
            f"{figures}, {delivered} delivered, threads {before}->{most}, "
            f"peak RSS {run.peak_rss_kb // 1024} MiB, {run.peak_threads} OS threads"
        )

    def huge_reply(self) -> str:
        # Valid JSON that says the report was accepted, after 128 MiB of padding: a
        # reporter reads a bounded part and hangs up; one that reads it whole fails.
        body = b'{"pad": "' + b"x" * HUGE_REPLY_BYTES + b'", "accepted": 1}'
        run, figures = self.run("one", Faults(body=body))
        self.stub.wait_for(1, timeout=2)
        self.messages()  # no request may have problems
        deadline = time.monotonic() + 5  # the driver has ended: its sockets are closed
        while not all(r.reply_done for r in self.stub.received) and time.monotonic() < deadline:
            time.sleep(0.05)
        taken = [r for r in self.stub.received if r.reply_taken or not r.reply_done]
        if taken:
            raise CheckFailed(
                f"the reporter read all of a {HUGE_REPLY_BYTES >> 20} MiB reply "
                f"(peak RSS {run.peak_rss_kb // 1024} MiB)"
            )
        return f"{figures}, peak RSS {run.peak_rss_kb // 1024} MiB"

    def trickle(self) -> str:
        # Headers at once, then a byte every half second: no per-read timeout ever fires.
        # Only a bound on the whole request frees the sender for the second report.
        trickle_s = TRICKLE_TIMEOUTS * self.harness.timeout_s
        _run, figures = self.run("two-late", Faults(trickle_s=trickle_s, first=1))
        self.stub.wait_for(2, timeout=2)
        got = self.messages()
        if not got["two-late-1"]:
            raise CheckFailed(
                f"the report made {LATE_EXTRA_MS / 1000:g} s after the request timeout never "
                f"arrived: a reply trickled for {trickle_s:g} s held the sender"
            )
        return figures

    # -- the network's rules -----------------------------------------------------

    def redirect(self, status: int) -> str:
        elsewhere = Stub(self.spec, self.sites())
        with running(elsewhere):
            location = elsewhere.base_url + self.spec.api.path
            run, figures = self.run("one", Faults(status=status, headers={"Location": location}))
            self.stub.wait_for(1, timeout=2)
            time.sleep(0.2)
            followed = list(elsewhere.received)
        if followed:
            keys = [r.headers.get(self.spec.api.api_key_header.lower()) for r in followed]
            raise CheckFailed(f"the redirect was followed ({len(followed)} requests, keys {keys})")
        if not self.stub.received:
            raise CheckFailed("nothing reached the endpoint")
        self.harness.check_log(run, lines=1)
        return figures

    def too_many_requests(self, retry_after: str | Callable[[], str], pause_s: float) -> str:
        faults = Faults(
            status=429, body=b'{"accepted": 0}', headers={"Retry-After": retry_after}, first=1
        )
        run, figures = self.run("two-apart", faults)
        self.stub.wait_for(2, timeout=2)
        requests = list(self.stub.received)
        if not requests or requests[0].status != 429:
            raise CheckFailed("the first request was not the one answered 429")
        paused_until = requests[0].answered + pause_s - PAUSE_SLACK_S
        early = [r.arrived - requests[0].answered for r in requests[1:] if r.arrived < paused_until]
        if early:
            raise CheckFailed(
                f"a request came {early[0]:.2f} s after the 429, within its Retry-After"
            )
        # The reporter tries the refused batch again after the pause; a snippet may drop
        # it, but what it did not send yet must follow.
        wanted = ["two-apart-0", "two-apart-1"]
        if self.harness.variant != "reporter":
            refused = {str(e.get(self.message_field)) for e in self.stub.errors_of(requests[0])}
            wanted = [m for m in wanted if m not in refused]
            if not wanted:
                raise CheckFailed("both reports went in the first request: the case proves nothing")
        self.wait_messages(wanted)
        self.harness.check_log(run, lines=1, at_most=True)
        gap = requests[1].arrived - requests[0].answered if len(requests) > 1 else 0.0
        return f"{figures}, next request {gap:.2f} s after the 429"

    def proxy(self) -> str:
        proxy_env = self.harness.toolchain.proxy_env
        if proxy_env is None:
            raise NotApplicable(self.harness.toolchain.no_proxy)
        proxy = Stub(self.spec, self.sites())
        with running(proxy):
            proxy.reset(self.sites())
            _run, figures = self.run("one", env=proxy_env("127.0.0.1", proxy.port))
            proxy.wait_for(1, timeout=2)
            self.wait_messages(["one-0"], stub=proxy)
            direct = list(self.stub.received)
            through = [r.via_proxy for r in proxy.received]
        if direct or not all(through):
            raise CheckFailed("the report did not go through the proxy")
        return figures


class NotApplicable(Exception):
    """The case does not apply to this language."""


def run_cases(report: Report, cases: Cases) -> None:
    """Every case of CASE_CHECKS, in order, into ``report``."""
    toolchain = cases.harness.toolchain
    actions: dict[str, Callable[[], str]] = {
        "null route": cases.null_route,
        "null error": cases.null_error,
        "bad message": cases.bad_message,
        "poisoned": cases.poisoned,
        "exit": cases.explicit_exit,
        "crash": cases.crash,
        "fork": cases.fork,
        "storm": cases.storm,
        "huge reply": cases.huge_reply,
        "trickle": cases.trickle,
        "redirect 302": lambda: cases.redirect(302),
        "redirect 307": lambda: cases.redirect(307),
        "429": lambda: cases.too_many_requests(str(RETRY_AFTER_S), RETRY_AFTER_S),
        # An HTTP date has whole seconds: the pause is more than one second less.
        "429 date": lambda: cases.too_many_requests(
            _http_date(RETRY_AFTER_DATE_S), RETRY_AFTER_DATE_S - 1
        ),
        "proxy": cases.proxy,
    }
    for check in CASE_CHECKS:
        if check == "fork" and not toolchain.forks:
            report.add(check, NOT_APPLICABLE, f"{cases.harness.language.title} has no fork")
            continue
        try:
            _attempt(report, check, actions[check])
        except NotApplicable as exc:
            report.add(check, NOT_APPLICABLE, str(exc))


def _attempt(report: Report, check: str, action: Callable[[], str]) -> bool:
    try:
        detail = action()
    except CheckFailed as exc:
        report.add(check, FAILED, str(exc))
        return False
    report.add(check, PASSED, detail)
    return True


def for_verify(generator: Generator) -> Generator:
    """``generator`` with the batch wait shortened to VERIFY_BATCH_WAIT_MS at most."""
    spec = generator.spec
    wait = min(spec.client.max_batch_wait_ms, VERIFY_BATCH_WAIT_MS)
    client = replace(spec.client, max_batch_wait_ms=wait)
    return Generator(replace(spec, client=client), generator.env)


def verify_one(generator: Generator, language: Language, variant: str) -> Report:
    """Every check of one language and variant; a missing toolchain is a skip."""
    generator = for_verify(generator)
    report = Report(language.name, variant)
    stub = Stub(generator.spec, {SITE_ID: Site(API_KEY)})
    with tempfile.TemporaryDirectory(prefix=f"nevision-verify-{language.name}-") as folder:
        harness = Harness(generator, language, variant, Path(folder))
        with running(stub):
            parsed = parse_check(language, harness.write_sources(stub))
            report.outcomes.append(parsed)
            try:
                build = harness.prepare()
            except Unavailable as exc:
                for check in CHECKS[1:]:
                    report.add(check, SKIPPED, str(exc))
                if parsed.status == PASSED:
                    parsed.status = PARSE_PASSED
                return report
            if not _attempt(report, "build", lambda: harness.build(build.steps)):
                for check in CHECKS[2:]:
                    report.add(check, SKIPPED, "the build failed")
                return report
            _attempt(report, "round trip", lambda: harness.check_round_trip(stub, build.run))
            cases: list[tuple[str, Faults, dict[str, Site] | None]] = [
                ("slow", Faults(delay_s=harness.timeout_s + SLOW_EXTRA_S), None),
                ("http 500", Faults(status=500, body=b"<h1>Internal Server Error</h1>"), None),
                ("not json", Faults(body=b"<html>ok</html>"), None),
                ("invalid site", Faults(), {}),
            ]
            for check, faults, sites in cases:
                stub.reset({SITE_ID: Site(API_KEY)} if sites is None else sites, faults)
                _attempt(report, check, lambda: harness.check_fault(build.run))
            run_cases(report, Cases(harness, stub, build))
        # The stub has stopped: its port now refuses connections.
        _attempt(report, "down", lambda: harness.check_fault(build.run))
    report.outcomes.sort(key=lambda o: CHECKS.index(o.check))
    return report


@contextmanager
def running(stub: Stub) -> Iterator[Stub]:
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()


def verify(
    generator: Generator, languages: list[str] | None = None, variant: str | None = None
) -> list[Report]:
    chosen = [get_language(name) for name in languages] if languages else list(LANGUAGES.values())
    reports = []
    for language in chosen:
        variants = [variant] if variant else list(language.variants)
        for name in variants:
            if name not in language.variants:
                continue
            reports.append(verify_one(generator, language, name))
    return reports


def table(reports: list[Report]) -> str:
    """A plain-text table, one row per language and variant, then the reasons and figures."""
    rows = [["language", "variant", *CHECKS]]
    rows += [[r.language, r.variant, *(o.status for o in r.outcomes)] for r in reports]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    reasons: dict[str, None] = {}
    figures = []
    for r in reports:
        for o in r.outcomes:
            if o.status == PASSED:
                if o.detail:
                    figures.append(f"  {r.language}/{r.variant} {o.check}: {o.detail}")
            elif o.detail:
                reasons[f"  {r.language}/{r.variant} {o.check}: {o.status}: {o.detail}"] = None
    if reasons:
        lines += ["", "Not passed:", *reasons]
    if figures:
        lines += ["", "Figures (report call, exit after main returned):", *figures]
    return "\n".join(lines) + "\n"


@dataclass
class Burst:
    """What a burst of reports cost the caller, and what reached the stub."""

    language: str
    variant: str
    calls: int
    p50_us: float
    p99_us: float
    max_us: float
    dropped: int
    delivered: int
    requests: int
    largest_batch: int
    problems: list[str]
    seconds: float


def burst(
    generator: Generator,
    language: Language,
    variant: str,
    count: int,
    delay_s: float,
    faults: Faults | None = None,
    site_key: str = API_KEY,
) -> Burst:
    """Report ``count`` errors as fast as the caller can while the stub takes ``delay_s``.

    ``faults`` replaces the delay with other misbehaviour; a ``site_key`` other than
    the one the code is generated with makes the stub answer "Invalid site".

    Builds ``templates/<lang>/bench.<ext>.j2`` beside the generated code, runs it,
    waits for it to exit, and counts what the stub accepted. Raises
    :class:`~generator.toolchains.Unavailable` when the toolchain is missing and
    :class:`CheckFailed` when the build or the run fails.
    """
    stub = Stub(generator.spec, {SITE_ID: Site(site_key)}, faults=faults or Faults(delay_s))
    with tempfile.TemporaryDirectory(prefix=f"nevision-burst-{language.name}-") as folder:
        harness = Harness(generator, language, variant, Path(folder))
        with running(stub):
            harness.write_sources(stub, language.bench_template)
            build = harness.prepare()
            harness.build(build.steps)
            started = time.monotonic()
            result = subprocess.run(
                [*build.run, str(count)], cwd=harness.work, capture_output=True, timeout=900
            )
            seconds = time.monotonic() - started
            stdout = result.stdout.decode("utf-8", "replace")
            lines = [line for line in stdout.splitlines() if line.startswith("{")]
            if result.returncode != 0 or not lines:
                tail = result.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
                raise CheckFailed(f"bench exited {result.returncode}: {' | '.join(tail)}")
            figures = json.loads(lines[-1])
            accepted_field = generator.spec.response.accepted_field
            requests = list(stub.received)
            sizes = [len(stub.errors_of(r)) for r in requests]
    return Burst(
        language=language.name,
        variant=variant,
        calls=figures["calls"],
        p50_us=figures["p50_us"],
        p99_us=figures["p99_us"],
        max_us=figures["max_us"],
        dropped=figures["dropped"],
        delivered=sum(int(r.reply.get(accepted_field, 0)) for r in requests),
        requests=len(requests),
        largest_batch=max(sizes, default=0),
        problems=[p for r in requests for p in r.problems],
        seconds=seconds,
    )
