"""Build and run every generated reporter for real against the local stub.

For each language and variant: render the code with its endpoint on the stub,
build it beside a driver program (templates/<lang>/driver.<ext>.j2) with
warnings as errors, run the driver, and check what the stub received. Then
run the fault cases. The driver raises a real exception a few calls deep with
a hostile message, calls the public function, prints one line of JSON
(``call_ms``, ``main_end_ms`` and the fields it expects, as hex of UTF-8) and
returns from main at once, as real programs do.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
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
CALL_BUDGET_S = {"python": 0.1, "php": 0.1, "java": 1.0, "kotlin": 1.0, "csharp": 1.0, "swift": 1.0}
#: After main returns, the process may take the spec's timeout plus this.
EXIT_MARGIN_S = 1.5
#: The slow endpoint answers this long after the client's timeout.
SLOW_EXTRA_S = 3.0

PASSED, FAILED, SKIPPED, PARSE_PASSED = "passed", "failed", "skipped", "parse-passed"
CHECKS = ("parse", "build", "round trip", "down", "slow", "http 500", "not json", "invalid site")


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
            "generated": self.language.file_stem,
            "generated_file": self.language.filename,
        }
        name = template or self.language.driver_template
        return self.generator.render_template(self.language, name, context)

    def run(self, command: list[str]) -> Run:
        limit = self.timeout_s + SLOW_EXTRA_S + 30
        started = time.time() * 1000
        try:
            result = subprocess.run(
                command, cwd=self.work, capture_output=True, timeout=limit, stdin=subprocess.DEVNULL
            )
        except subprocess.TimeoutExpired:
            raise CheckFailed(f"the driver was still running after {limit:.0f} s") from None
        ended = time.time() * 1000
        stdout = result.stdout.decode("utf-8", "replace")
        stderr = result.stderr.decode("utf-8", "replace")
        driver = None
        for line in stdout.splitlines():
            if line.startswith("{"):
                with suppress(ValueError):
                    driver = json.loads(line)
        return Run(result.returncode, stdout, stderr, started, ended, driver)

    def check_run(self, run: Run) -> str:
        """What every case asks: no exception, a quick call, a prompt exit; the figures."""
        if run.returncode != 0 or run.driver is None:
            tail = (run.stderr or run.stdout).strip().splitlines()[-3:]
            raise CheckFailed(f"driver exited {run.returncode}: {' | '.join(tail)}")
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

    def check_log(self, run: Run, lines: int) -> None:
        logged = [line for line in run.stderr.splitlines() if "nevision: " in line]
        if len(logged) != lines:
            raise CheckFailed(f"expected {lines} 'nevision: ' log line(s), got: {logged}")

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
            "exception_type": _unhex(run.driver["type"]),
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


def _attempt(report: Report, check: str, action: Callable[[], str]) -> bool:
    try:
        detail = action()
    except CheckFailed as exc:
        report.add(check, FAILED, str(exc))
        return False
    report.add(check, PASSED, detail)
    return True


def verify_one(generator: Generator, language: Language, variant: str) -> Report:
    """Every check of one language and variant; a missing toolchain is a skip."""
    report = Report(language.name, variant)
    stub = Stub(generator.spec, {SITE_ID: Site(API_KEY)})
    with tempfile.TemporaryDirectory(prefix=f"nevision-verify-{language.name}-") as folder:
        harness = Harness(generator, language, variant, Path(folder))
        with _running(stub):
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
                stub.faults = faults
                stub.sites = {SITE_ID: Site(API_KEY)} if sites is None else sites
                _attempt(report, check, lambda: harness.check_fault(build.run))
        # The stub has stopped: its port now refuses connections.
        _attempt(report, "down", lambda: harness.check_fault(build.run))
    report.outcomes.sort(key=lambda o: CHECKS.index(o.check))
    return report


@contextmanager
def _running(stub: Stub) -> Iterator[Stub]:
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
        with _running(stub):
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
