"""render() fills a cached skeleton: byte for byte what a full render and format gives.

Hypothesis draws site ids (any text), API keys (what a header may carry), base
URLs and packages; the fast path must equal ``render_full`` for each, from one
thread or many, and the cache must follow the spec file when it changes.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import SnippetsError, render
from generator.languages import Language
from generator.paths import DEFAULT_SPEC
from generator.render import Generator
from tests.support import HOSTILE_TEXT, PAIR_IDS, PAIRS

site_ids = st.one_of(
    st.text(min_size=1, max_size=120),
    st.sampled_from(["abc123", HOSTILE_TEXT, "x" * 75, "x" * 80, "x" * 90, 'q"uote', "é"]),
)
api_keys = st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=100),
    st.sampled_from(["k_live_" + "0" * 32, "k" * 76, "k" * 81, 'k"\\$x{$y}#{z}']),
)
endpoints = st.one_of(
    st.none(),
    st.sampled_from(
        ["http://127.0.0.1:8787", "https://eu.nevision.app", "https://a.b" + "/p" * 30]
    ),
)
PACKAGES = {"java": "com.example.errors", "kotlin": "com.example.errors"}
PACKAGES |= {"csharp": "Acme.Errors", "php": "Acme.Errors"}


def utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@pytest.fixture(scope="module")
def fresh() -> Generator:
    return Generator.from_path()


@pytest.mark.parametrize(("language", "variant"), PAIRS, ids=PAIR_IDS)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(site_id=site_ids, api_key=api_keys, endpoint=endpoints, packaged=st.booleans())
def test_the_fast_path_equals_a_full_render(
    fresh: Generator,
    language: Language,
    variant: str,
    site_id: str,
    api_key: str,
    endpoint: str | None,
    packaged: bool,
) -> None:
    if not utf8(site_id):
        return  # refused with one line by both paths (tests/test_render.py)
    package = PACKAGES.get(language.name) if packaged else None
    args = (language.name, variant, site_id, api_key, endpoint, package)
    assert fresh.render(*args) == fresh.render_full(*args)


def test_many_threads_get_each_their_own_snippet(fresh: Generator) -> None:
    expected = {
        (lang.name, variant, index): fresh.render_full(
            lang.name, variant, f"site-{index}", f"key-{index}"
        )
        for lang, variant in PAIRS
        for index in range(3)
    }
    results: dict[tuple[str, str, int], list[str]] = {key: [] for key in expected}
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(offset: int) -> None:
        try:
            start.wait()
            for round_ in range(20):
                for lang, variant, index in expected:
                    if (round_ + offset + index) % 3 == 0:
                        code = render(lang, variant, f"site-{index}", f"key-{index}")
                        results[(lang, variant, index)].append(code)
        except BaseException as exc:  # reported below, with the thread's own failure
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    for key, codes in results.items():
        assert codes and all(code == expected[key] for code in codes), key


def test_the_cache_follows_the_spec_file(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    shutil.copy(DEFAULT_SPEC, spec)
    before = render("kotlin", spec=spec)
    assert "5000" in before
    text = spec.read_text(encoding="utf-8").replace("timeout_ms: 5000", "timeout_ms: 7000")
    time.sleep(0.01)
    spec.write_text(text, encoding="utf-8")
    os.utime(spec, ns=(time.time_ns(), time.time_ns()))
    after = render("kotlin", spec=spec)
    assert after != before
    assert after == Generator.from_path(spec).render_full("kotlin")


def test_a_spec_error_is_still_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("api: {}\n", encoding="utf-8")
    with pytest.raises(SnippetsError, match="missing key"):
        render("python", spec=spec)
