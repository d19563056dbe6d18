"""Shared test helpers: hostile values, spec variants, tree-sitter parsing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, NoReturn

import pytest

from generator.languages import LANGUAGES
from generator.paths import DEFAULT_SPEC
from generator.render import Generator
from generator.stub import Stub

ROOT = Path(__file__).resolve().parent.parent

#: Everything that breaks a naive string literal or JSON encoder: quotes,
#: backslash, newline, tab, NUL and other controls, non-ASCII, an emoji,
#: U+2028, and every target language's interpolation and comment markers.
HOSTILE_TEXT = "q\"b\\n\n\tz\0\x1b\x7f é😀\u2028\u2029 $x ${x} \\(x) %s %n {$x} #{x} 's */ ?> <!-- "
#: What a command line can carry of it (argv has no NUL).
HOSTILE_ARG = HOSTILE_TEXT.replace("\0", "")
#: The same for a value that travels in an HTTP header (printable ASCII only).
HOSTILE_KEY = "k\"e'y\\$x${x}\\(x)%s{$x}#{x}*/?>"

PAIRS = [(lang, variant) for lang in LANGUAGES.values() for variant in lang.variants]
PAIR_IDS = [f"{lang.name}-{variant}" for lang, variant in PAIRS]


#: Text that means something to Markdown, MDX, HTML or a docs theme, for the spec's prose.
HOSTILE_PROSE = (
    "<script>alert(1)</script> {props.x} `code` *em* _em_ [link](http://evil.example) "
    "| cell | &amp; \\* ~~s~~ $x$ :::note :abbr[x] <!-- c --> ![i](x.png) # h www.example.org "
    "a@example.org https://example.org/x"
)


def spec_variant(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    """A copy of the project's spec with exact text replacements applied."""
    text = DEFAULT_SPEC.read_text(encoding="utf-8")
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} must occur once in the spec"
        text = text.replace(old, new)
    path = tmp_path / "snippets_spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def generator_for(spec: Path = DEFAULT_SPEC) -> Generator:
    return Generator.from_path(spec)


def run_python(
    tmp_path: Path, code: str, script: str, env: dict[str, str] | None = None, timeout: float = 60
) -> tuple[dict[str, Any], str]:
    """Run ``script`` beside generated ``code`` (as nevision.py) in a clean environment.

    Returns the last JSON line it printed and its stderr; it must exit 0.
    """
    (tmp_path / "nevision.py").write_text(code, encoding="utf-8")
    (tmp_path / "script.py").write_text(textwrap.dedent(script), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "script.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures, result.stderr


def cli(
    *args: str, cwd: Path = ROOT, cache: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it; the output cache is off unless a folder is given."""
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PYTHONPATH": str(ROOT),
            "PATH": "/usr/bin:/bin",
            "NEVISION_SNIPPETS_CACHE": str(cache) if cache else "off",
        },
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("nevision-snippets: error: ")
    assert text in result.stderr


def require_toolchain(tool: str, reason: str) -> NoReturn:
    """Skip for a missing tool, or fail where CI (REQUIRE_TOOLCHAINS=1, after
    .ci/install-toolchains) promised it."""
    if os.environ.get("REQUIRE_TOOLCHAINS") == "1":
        pytest.fail(f"REQUIRE_TOOLCHAINS=1 but {tool}: {reason}")
    pytest.skip(f"{tool}: {reason}")


def post(
    stub: Stub,
    body: object,
    key: str = "k1",
    raw: bytes | None = None,
    path: str | None = None,
    content_type: str = "application/json",
) -> tuple[int, dict[str, Any]]:
    """Send ``body`` (or ``raw`` bytes) to the stub as the spec says a client does: its
    method, path (unless ``path``) and key header. Returns the status and the JSON reply."""
    api = stub.spec.api
    data = raw if raw is not None else json.dumps(body).encode()
    request = urllib.request.Request(
        stub.base_url + (api.path if path is None else path),
        data=data,
        method=api.method,
        headers={"Content-Type": content_type, api.api_key_header: key},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
