"""Generated files kept on disk, so that a new ``nevision-snippets`` process can skip the work.

A file is found by a key that covers everything its bytes depend on: the
generator's own code and templates, the spec file, the versions of Jinja, PyYAML
and black (the installed files that name them), and the request (language,
variant, values, package). Each entry carries the SHA-256 of its text and is
written to a temporary name and renamed into place, so a corrupt, half-written or
concurrently written entry is never used: it reads as a miss.

Where: ``$NEVISION_SNIPPETS_CACHE`` if set, else ``$XDG_CACHE_HOME/nevision-snippets/output``
(``~/.cache/...``). ``NEVISION_SNIPPETS_CACHE=off`` turns it off.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from generator.paths import PACKAGE_DIR, TEMPLATES_DIR

#: Changes whenever the entry format or the key's recipe changes.
FORMAT = b"nevision-snippets output cache 1\n"
#: Entries kept; a store beyond this removes the oldest.
MAX_ENTRIES = 2000
#: Modules whose installed version decides what the generator writes, and their
#: distributions: the RECORD of each installed distribution is part of the key.
_DEPENDENCIES = (("jinja2", "jinja2"), ("yaml", "pyyaml"), ("black", "black"))
_OFF = {"off", "0", "no", "false"}


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is turned off."""
    setting = os.environ.get("NEVISION_SNIPPETS_CACHE", "")
    if setting.lower() in _OFF:
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "nevision-snippets" / "output"


def _files(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.rglob(pattern) if p.is_file())


def inputs_digest(spec: Path) -> str | None:
    """SHA-256 of everything but the request; None if something cannot be read."""
    digest = hashlib.sha256(FORMAT)
    try:
        sources = [*_files(PACKAGE_DIR, "*.py"), *_files(TEMPLATES_DIR, "*.j2")]
        for module, distribution in _DEPENDENCIES:
            record = _record(module, distribution)
            if record is None:
                return None  # not installed from a wheel: no version to key on
            sources.append(record)
        for path in sources:
            _add(digest, str(path.relative_to(path.parents[1])).encode(), path.read_bytes())
        _add(digest, b"spec", spec.read_bytes())
    except (OSError, ValueError, ImportError):
        return None
    return digest.hexdigest()


def _record(module: str, distribution: str) -> Path | None:
    """The RECORD file (every installed file and its hash) of ``module``'s distribution."""
    found = importlib.util.find_spec(module)
    if found is None or not found.submodule_search_locations:
        return None
    site = Path(next(iter(found.submodule_search_locations))).parent
    prefix = distribution + "-"
    for entry in os.scandir(site):
        name = entry.name.lower().replace("_", "-")
        if name.startswith(prefix) and name.endswith(".dist-info"):
            record = Path(entry.path) / "RECORD"
            if record.is_file():
                return record
    return None


def _add(digest: hashlib._Hash, *items: bytes) -> None:
    for item in items:
        digest.update(len(item).to_bytes(8, "big"))
        digest.update(item)


def key(inputs: str, request: Iterable[str | None]) -> str:
    """The entry's name: the inputs' digest and each part of the request, unambiguously."""
    digest = hashlib.sha256(inputs.encode())
    for part in request:
        _add(digest, b"-" if part is None else b"+" + part.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def load(folder: Path, name: str) -> str | None:
    """The text stored under ``name``; None when missing, unreadable or corrupt."""
    try:
        raw = (folder / name).read_bytes()
    except OSError:
        return None
    checksum, newline, body = raw.partition(b"\n")
    if not newline or hashlib.sha256(body).hexdigest().encode() != checksum:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def store(folder: Path, entries: dict[str, str]) -> None:
    """Keep ``entries`` (name to text); any failure leaves the cache as it was."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in entries.items():
            body = text.encode("utf-8")
            checksum = hashlib.sha256(body).hexdigest().encode()
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(checksum + b"\n" + body)
                os.replace(temporary, folder / name)
            except OSError:
                Path(temporary).unlink(missing_ok=True)
                raise
        _prune(folder)
    except OSError:
        pass  # a cache that cannot be written is only slower


def _prune(folder: Path) -> None:
    entries = [entry for entry in os.scandir(folder) if entry.is_file()]
    if len(entries) <= MAX_ENTRIES:
        return
    entries.sort(key=lambda entry: entry.stat().st_mtime_ns)
    for entry in entries[: len(entries) - MAX_ENTRIES // 2]:
        Path(entry.path).unlink(missing_ok=True)
