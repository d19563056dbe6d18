"""The command line's output cache: never a wrong byte, whatever the cache holds."""

from __future__ import annotations

import shutil
from pathlib import Path

from generator import cache
from generator.paths import DEFAULT_SPEC
from tests.support import ROOT, cli, spec_variant


def entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def test_a_second_run_is_served_from_the_cache(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    first = cli("generate", "--lang", "kotlin", cache=folder)
    assert first.returncode == 0, first.stderr
    (entry,) = entries(folder)
    second = cli("generate", "--lang", "kotlin", cache=folder)
    assert second.stdout == first.stdout
    assert second.stdout == (ROOT / "output/kotlin/snippet/Nevision.kt").read_text("utf-8")
    assert entries(folder) == [entry]


def test_every_input_is_part_of_the_key(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    base = ("generate", "--lang", "java", "--variant", "reporter")
    outputs = {
        cli(*base, cache=folder).stdout,
        cli(*base, "--site-id", "s2", cache=folder).stdout,
        cli(*base, "--api-key", "k2", cache=folder).stdout,
        cli(*base, "--endpoint", "http://127.0.0.1:1", cache=folder).stdout,
        cli(*base, "--package", "com.example", cache=folder).stdout,
    }
    assert len(outputs) == 5
    spec = spec_variant(tmp_path, ("timeout_ms: 5000", "timeout_ms: 6000"))
    changed = cli("--spec", str(spec), *base, cache=folder)
    assert "6000" in changed.stdout and changed.stdout not in outputs
    assert len(entries(folder)) == 6


def test_a_changed_template_is_a_miss(tmp_path: Path) -> None:
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "generator", copy / "generator")
    shutil.copytree(ROOT / "templates", copy / "templates")
    shutil.copy(DEFAULT_SPEC, copy / "snippets_spec.yaml")
    folder = tmp_path / "cache"
    spec = str(copy / "snippets_spec.yaml")
    before = cli("--spec", spec, "generate", "--lang", "php", cache=folder, cwd=copy)
    template = copy / "templates" / "php" / "snippet.php.j2"
    template.write_text(
        template.read_text(encoding="utf-8").replace("<?php\n", "<?php\n\n// edited\n", 1),
        encoding="utf-8",
    )
    after = cli("--spec", spec, "generate", "--lang", "php", cache=folder, cwd=copy)
    assert "// edited" in after.stdout and "// edited" not in before.stdout


def test_a_corrupt_or_foreign_entry_is_never_used(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    good = cli("generate", "--lang", "swift", cache=folder).stdout
    (entry,) = entries(folder)
    raw = entry.read_bytes()
    for damaged in (raw[:-10], raw.replace(b"nevision", b"NEVISION", 1), b"", b"\xff\xfe"):
        entry.write_bytes(damaged)
        assert cli("generate", "--lang", "swift", cache=folder).stdout == good
        assert entry.read_bytes() == raw  # rewritten with the right text


def test_the_cache_can_be_turned_off_and_never_breaks_a_run(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("", encoding="utf-8")
    result = cli("generate", "--lang", "python", cache=blocked)
    assert result.returncode == 0 and result.stdout.startswith('"""nevision')
    off = cli("generate", "--lang", "python")  # the helper's default: off
    assert off.stdout == result.stdout


def test_the_key_separates_its_parts() -> None:
    inputs = "0" * 64
    assert cache.key(inputs, ("a", "bc")) != cache.key(inputs, ("ab", "c"))
    assert cache.key(inputs, (None, "x")) != cache.key(inputs, ("", "x"))
    assert cache.key(inputs, ("a",)) == cache.key(inputs, ("a",))
