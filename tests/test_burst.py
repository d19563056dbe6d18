"""Burst: 1,000 errors as fast as possible while the stub takes 200 ms per request.

Every error is delivered or counted as dropped, no request holds more than the
spec's batch limit, and the requests number at most 1,000 / limit plus a few.
"""

from __future__ import annotations

import pytest

from generator.languages import LANGUAGES, Language
from generator.render import Generator
from generator.toolchains import Unavailable
from generator.verify import burst
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
