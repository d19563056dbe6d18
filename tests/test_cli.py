"""The command line, run as users run it: a subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from generator.documents import DOCUMENTS
from generator.languages import LANGUAGES
from tests.support import HOSTILE_ARG, HOSTILE_KEY, ROOT, assert_one_line_error, cli, spec_variant


@pytest.mark.parametrize("language", LANGUAGES)
def test_generate_prints_each_language(language: str) -> None:
    result = cli("generate", "--lang", language)
    assert result.returncode == 0, result.stderr
    assert "YOUR_SITE_ID" in result.stdout
    assert "https://api.nevision.app/public/errors/ingest" in result.stdout


def test_generate_personalises_with_hostile_values() -> None:
    result = cli(
        "generate", "--lang", "kotlin", "--site-id", HOSTILE_ARG, "--api-key", HOSTILE_KEY,
        "--endpoint", "http://127.0.0.1:8787/",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert LANGUAGES["kotlin"].literal(HOSTILE_ARG) in result.stdout
    assert LANGUAGES["kotlin"].literal(HOSTILE_KEY) in result.stdout
    assert '"http://127.0.0.1:8787/public/errors/ingest"' in result.stdout


def test_generate_all_writes_every_file(tmp_path: Path) -> None:
    result = cli("generate", "--all", "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in tmp_path.rglob("*.*"))
    expected = sorted(
        [lang.output_path(variant) for lang in LANGUAGES.values() for variant in lang.variants]
        + list(DOCUMENTS.values())
    )
    assert written == expected
    assert cli("check", "--out", str(tmp_path / "out")).returncode == 0


def test_list_shows_languages_variants_and_libraries() -> None:
    result = cli("list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(LANGUAGES)
    assert "com.squareup.okhttp3:okhttp 4.12.0" in result.stdout
    assert all("variants: snippet" in line for line in lines)


def test_help_and_version() -> None:
    top = cli("--help")
    assert top.returncode == 0
    for command in ("generate", "list", "check", "stub", "verify", "docs", "schema", "openapi"):
        assert re.search(rf"^  {command} ", top.stdout, re.MULTILINE), command
    generate = cli("generate", "--help")
    assert "--endpoint BASE_URL" in generate.stdout and "--all" in generate.stdout
    assert cli("--version").stdout.startswith("nevision-snippets, version ")


def test_check_passes_on_the_committed_output() -> None:
    result = cli("check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_fails_with_a_diff_when_output_is_stale(tmp_path: Path) -> None:
    out = tmp_path / "output"
    shutil.copytree(ROOT / "output", out)
    target = out / "kotlin" / "snippet" / "Nevision.kt"
    target.write_text(target.read_text().replace("5000", "9000"))
    (out / "python" / "snippet" / "nevision.py").unlink()
    (out / "stray.txt").write_text("x")
    result = cli("check", "--out", str(out))
    assert result.returncode == 1
    assert "-" in result.stdout and "9000" in result.stdout
    assert f"+++ {out}/python/snippet/nevision.py (generated)" in result.stdout
    assert f"{out}/stray.txt: not generated from the spec" in result.stdout
    assert "is stale (3 file(s))" in result.stderr


def test_check_follows_the_spec(tmp_path: Path) -> None:
    spec = spec_variant(tmp_path, ("timeout_ms: 5000", "timeout_ms: 6000"))
    shutil.copytree(ROOT / "output", tmp_path / "output")
    stale = cli("--spec", str(spec), "check", cwd=tmp_path)
    assert stale.returncode == 1
    assert "-    public const TIMEOUT_MS = 5000;" in stale.stdout
    assert "+    public const TIMEOUT_MS = 6000;" in stale.stdout
    regenerate = cli("--spec", str(spec), "generate", "--all", "--out", "output", cwd=tmp_path)
    assert regenerate.returncode == 0
    assert cli("--spec", str(spec), "check", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("generate", "--lang", "cobol"), "unknown language 'cobol'"),
        (("generate", "--lang", "python", "--variant", "x"), "python has no variant 'x'"),
        (("generate",), "give either --lang LANG or --all"),
        (("generate", "--all"), "--all writes files: give --out DIR"),
        (("generate", "--lang", "php", "--endpoint", "ftp://x"), "--endpoint 'ftp://x' must be"),
        (("generate", "--lang", "php", "--api-key", "a\tb"), "--api-key must be printable ASCII"),
        (("--spec", "/nonexistent.yaml", "list"), "/nonexistent.yaml: cannot read spec"),
        (("generate", "--bogus"), "No such option '--bogus'"),
        (("stub", "--site", "nocolon"), "'nocolon' is not SITE_ID:API_KEY"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...], text: str) -> None:
    assert_one_line_error(cli(*args), text)


def test_a_bad_spec_writes_nothing(tmp_path: Path) -> None:
    spec = spec_variant(tmp_path, ("timeout_ms: 5000", "timeout_ms: later"))
    out = tmp_path / "out"
    result = cli("--spec", str(spec), "generate", "--all", "--out", str(out))
    assert_one_line_error(result, f"{spec}:13: api.timeout_ms: expected an integer")
    assert not out.exists()


def test_a_broken_template_writes_nothing(tmp_path: Path) -> None:
    spec = spec_variant(tmp_path, ("max_errors: 20", "max_errors: 20"))
    project = tmp_path / "project"
    shutil.copytree(ROOT / "generator", project / "generator")
    shutil.copytree(ROOT / "templates", project / "templates")
    shutil.copy(spec, project / "snippets_spec.yaml")
    broken = project / "templates" / "swift" / "snippet.swift.j2"
    broken.write_text(broken.read_text() + "{{ api.no_such_key }}\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "generator", "generate", "--all", "--out", str(out)],
        cwd=project, capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert_one_line_error(result, "templates/swift/snippet.swift.j2:")
    assert "no_such_key" in result.stderr
    assert not out.exists()


def test_stub_command_serves_the_contract(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "requests.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "generator", "stub", "--port", str(port), "--site", "s:k",
         "--disabled-site", "off:k2", "--log", str(log)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert (
            first
            == f"stub: listening on http://127.0.0.1:{port}/public/errors/ingest (Ctrl-C stops)\n"
        )

        def post(site: str, key: str) -> dict[str, object]:
            error = {"type": "E", "message": "m", "fingerprint": "E:/", "timestamp": 1}
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/public/errors/ingest",
                data=json.dumps({"siteId": site, "errors": [error]}).encode(),
                headers={"Content-Type": "application/json", "x-nevision-api-key": key},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                reply: dict[str, object] = json.loads(response.read())
                return reply

        assert post("s", "k") == {"accepted": 1}
        assert post("off", "k2") == {"accepted": 0, "error": "Errors disabled"}
        assert post("s", "wrong") == {"accepted": 0, "error": "Invalid site"}
        assert 'type="E" message="m"' in process.stdout.readline()
        assert len(log.read_text().splitlines()) == 3
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 0
