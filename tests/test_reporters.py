"""The reporter promises the spec makes, run for real in every language with a toolchain.

Each language's reporter is built once, with a test spec of small limits, beside
its verify driver, and the driver's cases are run against the stub: settings from
the environment first (and hostile ones ignored), the limitReached pause, the
message, stack and route caps, and the bounded flush at exit. The snippet is built
too, for the caps it shares.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.languages import LANGUAGES, Language
from generator.render import Generator
from generator.stub import Faults, Site, Stub
from generator.toolchains import Unavailable
from generator.verify import API_KEY, SITE_ID, Cases, Harness, running
from tests.support import generator_for, spec_variant
from tests.test_verify import require_toolchains

SMALL_SPEC = (
    ("max_batch_wait_ms: 5000", "max_batch_wait_ms: 200"),
    ("flush_timeout_ms: 2000", "flush_timeout_ms: 1500"),
    ("initial_backoff_ms: 500", "initial_backoff_ms: 50"),
    ("max_backoff_ms: 30000", "max_backoff_ms: 100"),
    ("limit_reached_cooldown_ms: 60000", "limit_reached_cooldown_ms: 1000"),
    ("max_message_length: 4096", "max_message_length: 16"),
    ("max_stack_length: 32768", "max_stack_length: 200"),
    ("max_route_length: 2048", "max_route_length: 24"),
)
REPORTERS = [lang for lang in LANGUAGES.values() if "reporter" in lang.variants]
SNIPPETS = [lang for lang in LANGUAGES.values() if "snippet" in lang.variants]
#: Slack on a measured pause or exit (process start, scheduling).
SLACK_S = 0.15


@dataclass
class Built:
    cases: Cases
    stub: Stub
    generator: Generator


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Generator:
    return generator_for(spec_variant(tmp_path_factory.mktemp("spec"), *SMALL_SPEC))


def build(small: Generator, language: Language, variant: str) -> Iterator[Built]:
    """The language's variant and driver, built once, pointed at a stub that lives as long."""
    stub = Stub(small.spec, {SITE_ID: Site(API_KEY)})
    with (
        tempfile.TemporaryDirectory(prefix=f"nevision-{variant}-{language.name}-") as folder,
        running(stub),
    ):
        harness = Harness(small, language, variant, Path(folder))
        harness.write_sources(stub)
        try:
            built = harness.prepare()
        except Unavailable as exc:
            require_toolchains(language.name, str(exc))
            raise AssertionError("unreachable") from exc
        harness.build(built.steps)
        yield Built(Cases(harness, stub, built), stub, small)


@pytest.fixture(scope="module", params=REPORTERS, ids=[lang.name for lang in REPORTERS])
def built(small: Generator, request: pytest.FixtureRequest) -> Iterator[Built]:
    yield from build(small, request.param, "reporter")


@pytest.fixture(scope="module", params=SNIPPETS, ids=[lang.name for lang in SNIPPETS])
def built_snippet(small: Generator, request: pytest.FixtureRequest) -> Iterator[Built]:
    yield from build(small, request.param, "snippet")


def test_settings_from_the_environment_come_first(built: Built) -> None:
    other = Stub(built.generator.spec, {"site-from-env": Site("key-from-env")})
    env = built.generator.spec.reporter.env
    with running(other):
        built.cases.run(
            "one",
            env={
                env.site_id: "site-from-env",
                env.api_key: "key-from-env",
                env.base_url: other.base_url,
            },
        )
        got = other.wait_for(1, timeout=3)
    assert built.stub.received == []
    assert [r.problems for r in got] == [[]]
    assert [e.get("message") for e in other.errors()] == ["one-0"]
    assert got[0].json["siteId"] == "site-from-env"


def test_hostile_environment_values_are_ignored(built: Built) -> None:
    env = built.generator.spec.reporter.env
    run, _ = built.cases.run(
        "one",
        env={
            env.api_key: "key\r\nx-injected: yes",
            env.site_id: "site\nwith\x1bcontrols",
            env.base_url: "file:///etc/passwd",
        },
    )
    (request,) = built.stub.wait_for(1, timeout=3)
    header = built.generator.spec.api.api_key_header.lower()
    assert request.headers.get(header) == API_KEY
    assert "x-injected" not in request.headers
    assert request.json["siteId"] == SITE_ID
    assert [e.get("message") for e in built.stub.errors()] == ["one-0"]
    assert run.returncode == 0


def test_limit_reached_pauses_sending(built: Built) -> None:
    built.cases.run("two-apart", sites={SITE_ID: Site(API_KEY, quota=0)})
    requests = built.stub.wait_for(2, timeout=3)
    assert len(requests) == 2, "the second report was never sent"
    first, second = requests
    assert first.reply.get("limitReached") is True
    cooldown = built.generator.spec.reporter.limit_reached_cooldown_ms / 1000
    assert second.arrived - first.answered >= cooldown - SLACK_S


def test_message_stack_and_route_are_capped(built: Built) -> None:
    assert_capped(built)


def test_the_snippet_caps_message_stack_and_route_alike(built_snippet: Built) -> None:
    assert_capped(built_snippet)


def assert_capped(built: Built) -> None:
    built.cases.run("long")  # a 5,000-character message and route, from deep down
    built.stub.wait_for(1, timeout=3)
    (error,) = built.stub.errors()
    spec = built.generator.spec
    reporter = spec.reporter
    message, stack = error["message"], error.get("stack")
    assert message == "x" * reporter.max_message_length  # cut, not replaced
    assert isinstance(stack, str) and 0 < len(stack) <= reporter.max_stack_length
    name = {field.source: field.name for field in spec.payload.error_fields}
    route = "r" * reporter.max_route_length
    assert error[name["route"]] == route
    assert error[name["fingerprint"]].endswith(spec.fingerprint.separator + route)


def test_the_exit_flush_is_bounded(built: Built) -> None:
    run, _ = built.cases.run("one", Faults(delay_s=10))
    assert run.driver is not None
    flush = built.generator.spec.reporter.flush_timeout_ms / 1000
    took = (run.ended_ms - run.driver["main_end_ms"]) / 1000
    assert took <= flush + 1.0, f"exit took {took:.2f} s with a flush bound of {flush} s"
