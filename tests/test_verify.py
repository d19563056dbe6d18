"""The verify harness: every language built and run for real against the stub, under faults.

A missing toolchain is a skip with its reason; with REQUIRE_TOOLCHAINS=1 (CI,
after .ci/install-toolchains) a skip for any language this machine can build fails.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from generator.languages import LANGUAGES, Language
from generator.render import Generator, make_env
from generator.syntax import parse_problems
from generator.verify import (
    CHECKS,
    FAILED,
    NOT_APPLICABLE,
    PARSE_PASSED,
    PASSED,
    SKIPPED,
    Harness,
    Report,
    table,
    verify,
)
from tests.support import PAIR_IDS, PAIRS, ROOT, require_toolchain

RUNNABLE_HERE = {"python", "php", "java", "kotlin", "node", "go", "ruby"}


def require_toolchains(language: str, reason: str) -> None:
    """Skip for a missing toolchain, or fail where CI promised to install it."""
    if language in RUNNABLE_HERE:
        require_toolchain(language, reason)
    pytest.skip(f"{language}: {reason}")


def require_or_skip(report: Report) -> None:
    skipped = [o for o in report.outcomes if o.status == SKIPPED]
    if skipped:
        require_toolchains(report.language, skipped[0].detail)


@pytest.mark.parametrize(("language", "variant"), PAIRS, ids=PAIR_IDS)
def test_generated_code_survives_verify(
    generator: Generator, language: Language, variant: str
) -> None:
    (report,) = verify(generator, [language.name], variant)
    print(table([report]))
    assert [o.check for o in report.outcomes] == list(CHECKS)
    failed = [f"{o.check}: {o.detail}" for o in report.outcomes if o.status == FAILED]
    assert failed == []
    if language.name not in RUNNABLE_HERE and report.outcomes[1].status == SKIPPED:
        assert report.outcomes[0].status == PARSE_PASSED
    require_or_skip(report)
    not_passed = [o for o in report.outcomes if o.status != PASSED]
    # Only fork may not apply (where the language has none), and the proxy case
    # where the language's client has no proxy setting the run can give.
    assert {o.check for o in not_passed} <= {"fork", "proxy"}, not_passed
    assert all(o.status == NOT_APPLICABLE and o.detail for o in not_passed), not_passed
    if language.name in ("python", "php"):
        assert not not_passed


# The docs page's Java escaping: only backslash and quote. Every stack trace has
# newlines and tabs, so every body it builds is invalid JSON.
DOCS_QUOTE = """    private static String json(String text) {
        return "\\"" + text.replace("\\\\", "\\\\\\\\").replace("\\"", "\\\\\\"") + "\\"";
    }
"""


def test_a_broken_java_escaper_fails_verify(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    shared = templates / "java" / "_json.java.j2"  # included by every Java variant
    text = shared.read_text(encoding="utf-8")
    escaper = re.compile(r"    private static String json\(String text\) \{\n.*?\n    \}\n", re.S)
    assert len(escaper.findall(text)) == 1, "the Java json() escaper moved"
    shared.write_text(escaper.sub(lambda _: DOCS_QUOTE, text), encoding="utf-8")
    broken = Generator(Generator.from_path().spec, make_env(templates))
    reports = verify(broken, ["java"])
    assert [r.variant for r in reports] == list(LANGUAGES["java"].variants)
    for report in reports:
        require_or_skip(report)
        outcome = {o.check: o for o in report.outcomes}
        assert outcome["build"].status == PASSED  # it compiles: only running it shows the bug
        assert outcome["round trip"].status == FAILED
        assert "not valid UTF-8 JSON" in outcome["round trip"].detail


def test_table_lists_every_check_and_reason() -> None:
    report = Report("swift", "snippet")
    report.add("parse", PARSE_PASSED)
    for check in CHECKS[1:]:
        report.add(check, SKIPPED, "swiftc is not on PATH")
    text = table([report])
    assert text.splitlines()[0].split()[:3] == ["language", "variant", "parse"]
    assert "swift     snippet  parse-passed  skipped" in text
    assert "swift/snippet build: skipped: swiftc is not on PATH" in text
    assert LANGUAGES["swift"].name in text


@pytest.mark.parametrize(("language", "variant"), PAIRS, ids=PAIR_IDS)
def test_driver_and_bench_programs_parse(
    generator: Generator, language: Language, variant: str, tmp_path: Path
) -> None:
    # Where no compiler exists (C#, Swift) this is the only check these programs get.
    harness = Harness(generator, language, variant, tmp_path)
    for template in (language.driver_template, language.bench_template):
        assert parse_problems(language, harness.driver_code(template)) == [], template
