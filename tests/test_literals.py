"""Each language's string-literal function yields exactly the input string in that language."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

from generator import literals
from generator.languages import LANGUAGES, Language
from generator.syntax import parse_problems, parser_for, walk
from tests.support import HOSTILE_KEY, HOSTILE_TEXT

SAMPLES = [
    "",
    "plain",
    HOSTILE_TEXT,
    HOSTILE_KEY,
    "\\u0022 \\u000a \\\\u0041 \\x41 \\0 \\101",  # escape-looking text stays text
    "".join(chr(c) for c in range(0x20)) + "\x7f\x80\x9f\xa0\xff",
    "\U0001f600\U00010000\U0010ffff\ufeff\ud7ff\ue000",
    '"""' + "'''" + "\\",
]

WRAPPERS = {
    "python": "x = {}\n",
    "php": "<?php\n$x = {};\n",
    "csharp": "class C {{ string x = {}; }}\n",
    "java": "class C {{ String x = {}; }}\n",
    "kotlin": "val x = {}\n",
    "swift": "let x = {}\n",
    "node": "const x = {};\n",
    "go": "package p\n\nvar x = {}\n",
    "ruby": "x = {}\n",
}


@pytest.mark.parametrize("sample", SAMPLES)
def test_python_literal_round_trips(sample: str) -> None:
    assert ast.literal_eval(literals.python_literal(sample)) == sample


@pytest.mark.parametrize("language", LANGUAGES.values(), ids=list(LANGUAGES))
@pytest.mark.parametrize("sample", SAMPLES)
def test_literal_is_one_plain_string_without_interpolation(language: Language, sample: str) -> None:
    literal = language.literal(sample)
    assert literal.isascii() and literal.isprintable()
    code = WRAPPERS[language.name].format(literal)
    assert parse_problems(language, code) == []
    tree = parser_for(language).parse(code.encode())
    kinds = [node.type for node in walk(tree.root_node)]
    assert not [kind for kind in kinds if "interpolat" in kind]
    # Only the wrapper's own `$x` is a variable: nothing inside the string interpolates.
    assert kinds.count("variable_name") == (1 if language.name == "php" else 0)


def _run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode("utf-8")


def _code_points() -> list[str]:
    return [" ".join(f"{ord(c):x}" for c in sample) for sample in SAMPLES]


@pytest.mark.skipif(shutil.which("php") is None, reason="php is not installed")
def test_php_literal_round_trips(tmp_path: Path) -> None:
    values = ", ".join(literals.php_literal(s) for s in SAMPLES)
    (tmp_path / "t.php").write_text(
        "<?php\nforeach ([" + values + '] as $s) {\n    echo bin2hex($s), "\\n";\n}\n',
        encoding="utf-8",
    )
    utf8 = [sample.encode("utf-8").hex() for sample in SAMPLES]
    assert _run(["php", "t.php"], tmp_path).split("\n")[:-1] == utf8


@pytest.mark.skipif(shutil.which("javac") is None, reason="javac is not installed")
def test_java_literal_round_trips(tmp_path: Path) -> None:
    values = ", ".join(literals.java_literal(s) for s in SAMPLES)
    (tmp_path / "T.java").write_text(
        "public class T { public static void main(String[] a) {\n"
        "  for (String s : new String[] {" + values + "}) {\n"
        "    StringBuilder b = new StringBuilder();\n"
        '    s.codePoints().forEach(c -> b.append(b.length() > 0 ? " " : "")'
        ".append(Integer.toHexString(c)));\n"
        "    System.out.println(b);\n  }\n} }\n",
        encoding="utf-8",
    )
    _run(["javac", "-encoding", "US-ASCII", "T.java"], tmp_path)
    assert _run(["java", "-cp", ".", "T"], tmp_path).split("\n")[:-1] == _code_points()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_javascript_literal_round_trips(tmp_path: Path) -> None:
    values = ", ".join(literals.javascript_literal(s) for s in SAMPLES)
    (tmp_path / "t.js").write_text(
        "for (const s of [" + values + "]) {\n"
        "  console.log([...s].map((c) => c.codePointAt(0).toString(16)).join(' '));\n}\n",
        encoding="utf-8",
    )
    assert _run(["node", "t.js"], tmp_path).split("\n")[:-1] == _code_points()


@pytest.mark.skipif(shutil.which("go") is None, reason="go is not installed")
def test_go_literal_round_trips(tmp_path: Path) -> None:
    values = ", ".join(literals.go_literal(s) for s in SAMPLES)
    (tmp_path / "t.go").write_text(
        'package main\n\nimport (\n\t"fmt"\n\t"strings"\n)\n\nfunc main() {\n'
        "\tfor _, s := range []string{" + values + "} {\n"
        "\t\tparts := []string{}\n"
        '\t\tfor _, r := range s {\n\t\t\tparts = append(parts, fmt.Sprintf("%x", r))\n\t\t}\n'
        '\t\tfmt.Println(strings.Join(parts, " "))\n\t}\n}\n',
        encoding="utf-8",
    )
    env_home = {"HOME": str(tmp_path), "GOCACHE": str(tmp_path / "cache"), "GO111MODULE": "off"}
    result = subprocess.run(
        ["go", "run", "t.go"], cwd=tmp_path, capture_output=True, timeout=300,
        env={"PATH": "/usr/bin:/bin:/usr/local/bin", **env_home},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert result.stdout.decode().split("\n")[:-1] == _code_points()


@pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby is not installed")
def test_ruby_literal_round_trips(tmp_path: Path) -> None:
    values = ", ".join(literals.ruby_literal(s) for s in SAMPLES)
    (tmp_path / "t.rb").write_text(
        "[" + values + "].each { |s| puts s.codepoints.map { |c| c.to_s(16) }.join(' ') }\n",
        encoding="utf-8",
    )
    assert _run(["ruby", "t.rb"], tmp_path).split("\n")[:-1] == _code_points()
