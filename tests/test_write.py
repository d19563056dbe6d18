"""Writing output: all or nothing, files as the umask says, `check` byte for byte."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.documents import every_document
from generator.render import Generator
from generator.write import STAGING_PREFIX, stale_files, write_all
from tests.support import ROOT, assert_one_line_error, cli


def generated(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_one_unwritable_target_writes_nothing(tmp_path: Path, generator: Generator) -> None:
    out = tmp_path / "out"
    blocker = out / "java" / "snippet" / "Nevision.java"
    blocker.mkdir(parents=True)  # a folder where a file must go
    result = cli("generate", "--all", "--out", str(out))
    assert_one_line_error(result, "it is a folder")
    assert generated(out) == []
    assert [p.name for p in out.iterdir()] == ["java"]  # no staging folder left


def test_a_file_where_the_folder_must_go_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("mine", encoding="utf-8")
    result = cli("docs", "--out", str(blocker / "page.md"))
    assert_one_line_error(result, f"cannot write into {blocker}: it is a file, not a folder")
    assert blocker.read_text(encoding="utf-8") == "mine"


def test_files_follow_the_umask(tmp_path: Path) -> None:
    for umask, mode in ((0o022, 0o644), (0o027, 0o640)):
        out = tmp_path / f"out{umask:o}"
        result = subprocess.run(
            [sys.executable, "-c", f"import os, sys; os.umask({umask}); "
             "from generator.cli import main; sys.argv[1:] = sys.argv[1:]; main()",
             "generate", "--lang", "python", "--out", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        (written,) = out.rglob("nevision.py")
        assert stat.S_IMODE(written.stat().st_mode) == mode


def test_a_killed_run_leaves_all_or_nothing(tmp_path: Path, generator: Generator) -> None:
    # What `generate --all` writes: the code and the documents.
    expected = {**generator.render_all(), **every_document(generator)}
    outcomes = set()
    for run in range(16):
        out = tmp_path / f"out{run}"
        process = subprocess.Popen(
            [sys.executable, "-m", "generator", "generate", "--all", "--out", str(out)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.03 * run)
        process.send_signal(signal.SIGKILL if run % 2 else signal.SIGTERM)
        process.wait(timeout=60)
        files = generated(out) if out.exists() else []
        complete = [f for f in files if not f.startswith(STAGING_PREFIX)]
        assert complete in ([], sorted(expected)), f"run {run}: a partial set {complete}"
        outcomes.add(len(complete))
        if run % 2 == 0:  # SIGTERM: the run cleaned up after itself
            assert not any(f.startswith(STAGING_PREFIX) for f in files)
        if complete:
            assert stale_files(out, expected) == []  # check ignores a killed run's leftovers
    assert outcomes  # at least one run; with 16 delays, usually both outcomes


def test_the_next_run_removes_what_a_killed_run_left(tmp_path: Path, generator: Generator) -> None:
    leftover = tmp_path / f"{STAGING_PREFIX}dead" / "python" / "snippet" / "nevision.py"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("", encoding="utf-8")
    write_all(tmp_path, {"python/snippet/nevision.py": "x = 1\n"})
    assert generated(tmp_path) == ["python/snippet/nevision.py"]


def test_check_compares_bytes_and_reports_links(tmp_path: Path, generator: Generator) -> None:
    expected = generator.render_all()
    write_all(tmp_path, expected)
    assert stale_files(tmp_path, expected) == []
    crlf = tmp_path / "python" / "snippet" / "nevision.py"
    crlf.write_bytes(crlf.read_bytes().replace(b"\n", b"\r\n"))
    assert [d.splitlines()[0] for d in stale_files(tmp_path, expected)] == [f"--- {crlf}"]
    crlf.write_text(expected["python/snippet/nevision.py"], encoding="utf-8")
    dangling = tmp_path / "python" / "snippet" / "old.py"
    os.symlink(tmp_path / "nowhere", dangling)
    assert stale_files(tmp_path, expected) == [
        f"{dangling}: not generated from the spec; delete it\n"
    ]
    dangling.unlink()
    linked = tmp_path / "php" / "snippet" / "nevision.php"
    linked.unlink()
    os.symlink(tmp_path / "php" / "reporter" / "nevision.php", linked)
    assert stale_files(tmp_path, expected) == [
        f"{linked}: a link, not a generated file; delete it\n"
    ]


@pytest.mark.parametrize("flag", ["--all", "--lang"])
def test_generate_reports_what_it_wrote(tmp_path: Path, flag: str) -> None:
    args = ["generate", "--all"] if flag == "--all" else ["generate", "--lang", "php"]
    result = cli(*args, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    written = generated(tmp_path)
    assert len(result.stderr.splitlines()) == len(written)
    assert all(line.startswith("wrote ") for line in result.stderr.splitlines())
