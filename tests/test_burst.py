"""The reporter variant of every language, run for real against the stub.

Burst: 1,000 errors as fast as possible while the stub takes 200 ms per request;
every error is delivered or counted as dropped, no request holds more than the
spec's batch limit, and the requests number at most 1,000 / limit plus a few.
Then the reporter's own promises: a full queue drops and counts, 5xx is retried
then dropped, "Invalid site" stops sending.
"""

from __future__ import annotations

from typing import Any

import pytest

from generator.languages import LANGUAGES, Language
from generator.render import Generator
from generator.stub import Faults
from generator.toolchains import Unavailable
from generator.verify import Burst, burst
from tests.support import generator_for, spec_variant
from tests.test_verify import require_toolchains

COUNT = 1000
DELAY_S = 0.2
REPORTERS = [lang for lang in LANGUAGES.values() if "reporter" in lang.variants]


@pytest.mark.parametrize("language", REPORTERS, ids=[lang.name for lang in REPORTERS])
def test_burst_is_delivered_or_counted(generator: Generator, language: Language) -> None:
    try:
        result = burst(generator, language, "reporter", COUNT, DELAY_S)
    except Unavailable as exc:
        require_toolchains(language.name, str(exc))
        return
    limit = generator.spec.payload.max_errors
    assert result.problems == []
    assert result.delivered + result.dropped == COUNT, result
    assert 0 < result.largest_batch <= limit
    assert result.requests <= COUNT // limit + 3, result


# Small limits make each reporter behaviour quick to reach.
SMALL_SPEC = (
    ("queue_size: 1000", "queue_size: 50"),
    ("initial_backoff_ms: 500", "initial_backoff_ms: 50"),
    ("max_backoff_ms: 30000", "max_backoff_ms: 100"),
)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Generator:
    return generator_for(spec_variant(tmp_path_factory.mktemp("spec"), *SMALL_SPEC))


def run_burst(generator: Generator, language: Language, count: int, **kwargs: Any) -> Burst:
    try:
        return burst(generator, language, "reporter", count, 0.0, **kwargs)
    except Unavailable as exc:
        require_toolchains(language.name, str(exc))
        raise AssertionError("unreachable") from exc


@pytest.mark.parametrize("language", REPORTERS, ids=[lang.name for lang in REPORTERS])
def test_a_full_queue_drops_and_counts(small: Generator, language: Language) -> None:
    result = run_burst(small, language, 300, faults=Faults(delay_s=0.2))
    assert result.dropped > 0
    assert result.delivered + result.dropped == 300
    assert result.problems == []


@pytest.mark.parametrize("language", REPORTERS, ids=[lang.name for lang in REPORTERS])
def test_server_errors_are_retried_then_dropped(small: Generator, language: Language) -> None:
    result = run_burst(small, language, 1, faults=Faults(status=503))
    assert result.requests == small.spec.reporter.retry.attempts
    assert (result.delivered, result.dropped) == (0, 1)


@pytest.mark.parametrize("language", REPORTERS, ids=[lang.name for lang in REPORTERS])
def test_invalid_site_stops_sending(small: Generator, language: Language) -> None:
    result = run_burst(small, language, 5, site_key="not-the-key")
    assert result.requests == 1  # the first reply stops the reporter for the process
    assert (result.delivered, result.dropped) == (0, 5)
