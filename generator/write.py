"""Writing generated files, all or nothing, and comparing a folder with what the spec makes."""

from __future__ import annotations

import difflib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from generator.errors import SnippetsError

#: Prefix of the folder a set of files is written to before it is moved into place.
STAGING_PREFIX = ".nevision-staging-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def _cleanup_on_termination() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into SystemExit meanwhile, so ``finally`` blocks still run."""
    previous = {}
    try:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            previous[signum] = signal.signal(signum, _exit_on_signal)
    except ValueError:
        pass  # not the main thread: signals stay as they are
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _remove_stale_staging(out: Path) -> None:
    """Folders a killed run left behind (SIGKILL runs no cleanup)."""
    for leftover in out.glob(STAGING_PREFIX + "*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)


def write_all(out: Path, files: dict[str, str]) -> None:
    """Write every file under ``out`` or none of them.

    The whole set is written to a staging folder inside ``out`` first; only when
    every file is written, and every target is known to be writable, is each moved
    into place (a rename). Files follow the umask like any other generated file.
    The staging folder is removed on every path, a signal included.
    """
    mode = 0o666 & ~_umask()
    staging: Path | None = None
    with _cleanup_on_termination():
        try:
            if out.exists() and not out.is_dir():
                raise SnippetsError(f"cannot write into {out}: it is a file, not a folder")
            out.mkdir(parents=True, exist_ok=True)
            _remove_stale_staging(out)
            staging = Path(tempfile.mkdtemp(dir=out, prefix=STAGING_PREFIX))
            for relative, text in files.items():
                staged = staging / relative
                staged.parent.mkdir(parents=True, exist_ok=True)
                with open(staged, "w", encoding="utf-8", newline="") as handle:
                    handle.write(text)
                os.chmod(staged, mode)
            for relative in files:
                target = out / relative
                if target.is_dir() and not target.is_symlink():
                    raise SnippetsError(f"cannot write {target}: it is a folder")
                folder = next(p for p in target.parents if p.exists())
                if not folder.is_dir() or not os.access(folder, os.W_OK):
                    raise SnippetsError(f"cannot write {target}: {folder} is not a writable folder")
            for relative in files:
                (out / relative).parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging / relative, out / relative)
        except OSError as exc:
            where = exc.filename or out
            raise SnippetsError(f"cannot write {where}: {exc.strerror or exc}") from None
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)


def stale_files(out: Path, expected: dict[str, str]) -> list[str]:
    """Unified diffs (one per file) between ``out`` and what the generator makes now.

    Files are compared byte for byte (a CRLF line ending is a difference); a file
    the spec does not make, a symlink or a dangling link is reported too.
    """
    diffs = []
    for relative, text in sorted(expected.items()):
        path = out / relative
        if path.is_symlink():
            diffs.append(f"{path}: a link, not a generated file; delete it\n")
            continue
        try:
            current: str | None = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            current = None
        except (OSError, UnicodeDecodeError) as exc:
            raise SnippetsError(f"cannot read {path}: {exc}") from None
        if current == text:
            continue
        diff = difflib.unified_diff(
            [] if current is None else current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile="/dev/null" if current is None else str(path),
            tofile=f"{path} (generated)",
        )
        diffs.append("".join(line if line.endswith("\n") else line + "\n" for line in diff))
    if out.is_dir():
        for path in sorted(out.rglob("*")):
            relative = path.relative_to(out).as_posix()
            if relative.startswith(STAGING_PREFIX) or relative in expected:
                continue
            if path.is_symlink() or path.is_file():
                diffs.append(f"{path}: not generated from the spec; delete it\n")
    return diffs
