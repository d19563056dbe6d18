"""Every language and variant: the snapshot, the parse, and the committed output/ folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.documents import every_document
from generator.languages import Language
from generator.render import Generator
from generator.syntax import parse_problems
from tests.support import HOSTILE_KEY, HOSTILE_TEXT, PAIR_IDS, PAIRS, ROOT

SNAPSHOTS = ROOT / "tests" / "snapshots"
# Snapshots show the code with values that stress every literal function.
SNAPSHOT_VALUES = {
    "site_id": HOSTILE_TEXT,
    "api_key": HOSTILE_KEY,
    "endpoint": "http://127.0.0.1:8787",
}


@pytest.mark.parametrize(("language", "variant"), PAIRS, ids=PAIR_IDS)
def test_snapshot(
    language: Language, variant: str, generator: Generator, request: pytest.FixtureRequest
) -> None:
    code = generator.render(language.name, variant, **SNAPSHOT_VALUES)
    path = SNAPSHOTS / language.output_path(variant)
    if request.config.getoption("--update-snapshots"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
    assert path.exists(), f"no snapshot {path}; run pytest --update-snapshots"
    assert code == path.read_text(encoding="utf-8"), "run pytest --update-snapshots and review"


@pytest.mark.parametrize("values", ["placeholders", "hostile"])
@pytest.mark.parametrize(("language", "variant"), PAIRS, ids=PAIR_IDS)
def test_output_parses(language: Language, variant: str, generator: Generator, values: str) -> None:
    kwargs = SNAPSHOT_VALUES if values == "hostile" else {}
    code = generator.render(language.name, variant, **kwargs)
    assert parse_problems(language, code) == []


def test_no_stray_snapshots(generator: Generator) -> None:
    expected = set(generator.render_all())
    found = {p.relative_to(SNAPSHOTS).as_posix() for p in SNAPSHOTS.rglob("*") if p.is_file()}
    assert found == expected


def test_committed_output_is_fresh(generator: Generator) -> None:
    expected = {**generator.render_all(), **every_document(generator)}
    output = ROOT / "output"
    for relative, code in expected.items():
        assert (output / relative).read_text(encoding="utf-8") == code, (
            f"output/{relative} is stale: run nevision-snippets generate --all --out output"
        )
    found = {p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()}
    assert found == set(expected)


def test_output_files_are_named_for_their_language(generator: Generator) -> None:
    paths = set(generator.render_all())
    assert "java/snippet/Nevision.java" in paths  # a public class lives in its own file name
    assert "python/snippet/nevision.py" in paths  # importable as `nevision`
    suffixes = {".py", ".php", ".cs", ".java", ".kt", ".swift", ".cjs", ".go", ".rb"}
    assert all(Path(p).suffix in suffixes for p in paths)
