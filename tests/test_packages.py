"""--package (Java, Kotlin) and --namespace (C#, PHP): code a real codebase can call.

The generated file is built in the named package and called from code in another
package, with each language's real toolchain where this machine has it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from generator.errors import SnippetsError
from generator.languages import LANGUAGES, VARIANTS
from generator.render import Generator
from generator.syntax import parse_problems
from generator.toolchains import (
    Unavailable,
    find_kotlinc,
    maven_jar,
    which,
)
from tests.support import assert_one_line_error, cli
from tests.test_verify import require_toolchains

NAMES = {"java": "com.example.errors", "kotlin": "com.example.errors", "csharp": "Acme.Errors"}
NAMES["php"] = "Acme\\Errors"
PACKAGED = sorted(NAMES)
#: A local port nothing listens on: the calls below send nowhere.
NOWHERE = "http://127.0.0.1:9"


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("language", PACKAGED)
def test_the_package_is_declared_and_parses(
    generator: Generator, language: str, variant: str
) -> None:
    lang = LANGUAGES[language]
    code = generator.render(language, variant, package=NAMES[language])
    default = generator.render(language, variant)
    keyword = "package" if lang.package_option == "--package" else "namespace"
    assert f"{keyword} {NAMES[language]}" in code
    assert f"{keyword} {NAMES[language]}" not in default
    assert parse_problems(lang, code) == []


@pytest.mark.parametrize(
    ("language", "name", "text"),
    [
        ("java", "com.example.class", "'class' is a reserved word"),
        ("java", "com..example", "is not a name"),
        ("kotlin", "com.example.fun", "'fun' is a reserved word"),
        ("csharp", "Acme.Errors;using System", "is not a name"),
        ("php", "Acme\\Function", "'Function' is a reserved word"),
        ("php", "Acme Errors", "is not a name"),
        ("java", "a" * 300, "longer than"),
        ("python", "errors", "has no package or namespace"),
    ],
)
def test_a_bad_package_is_refused(
    generator: Generator, language: str, name: str, text: str
) -> None:
    with pytest.raises(SnippetsError, match=text):
        generator.render(language, "snippet", package=name)


def test_the_cli_takes_the_option_each_language_has() -> None:
    result = cli("generate", "--lang", "java", "--package", "com.example.errors")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("package com.example.errors;") == 1
    assert_one_line_error(cli("generate", "--lang", "php", "--package", "x.y"), "takes --namespace")
    assert_one_line_error(
        cli("generate", "--lang", "kotlin", "--namespace", "X"), "takes --package"
    )
    assert_one_line_error(
        cli("generate", "--lang", "java", "--package", "com.1st"), "'1st' is not a name"
    )


def test_generate_all_puts_each_language_in_its_package(tmp_path: Path) -> None:
    result = cli(
        "generate", "--all", "--out", str(tmp_path), "--package", "com.example.errors",
        "--namespace", "Acme.Errors",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    java = (tmp_path / "java" / "reporter" / "Nevision.java").read_text(encoding="utf-8")
    csharp = (tmp_path / "csharp" / "reporter" / "Nevision.cs").read_text(encoding="utf-8")
    python = (tmp_path / "python" / "reporter" / "nevision.py").read_text(encoding="utf-8")
    assert "package com.example.errors;" in java
    assert "namespace Acme.Errors" in csharp
    php = (tmp_path / "php" / "reporter" / "nevision.php").read_text(encoding="utf-8")
    assert "namespace Acme\\Errors;" in php
    assert "Acme" not in python


def _build(steps: list[list[str]], cwd: Path) -> str:
    out = []
    for step in steps:
        result = subprocess.run(step, cwd=cwd, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        out.append(result.stdout)
    return "".join(out)


@pytest.mark.parametrize("variant", VARIANTS)
def test_java_in_a_package_is_called_from_another(
    generator: Generator, variant: str, tmp_path: Path
) -> None:
    try:
        javac, java = which("javac"), which("java")
    except Unavailable as exc:
        require_toolchains("java", str(exc))
        return
    source = tmp_path / "com" / "example" / "errors" / "Nevision.java"
    source.parent.mkdir(parents=True)
    source.write_text(
        generator.render("java", variant, endpoint=NOWHERE, package=NAMES["java"]), encoding="utf-8"
    )
    caller = tmp_path / "com" / "example" / "app" / "Caller.java"
    caller.parent.mkdir(parents=True)
    caller.write_text(
        "package com.example.app;\n\n"
        "import com.example.errors.Nevision;\n\n"
        "public final class Caller {\n"
        "    private Caller() {\n    }\n\n"
        "    public static void main(String[] args) {\n"
        '        Nevision.report(new IllegalStateException("packaged"), null);\n'
        '        System.out.println("called");\n'
        "    }\n}\n",
        encoding="utf-8",
    )
    compile_ = [javac, "-Xlint:all", "-Werror", "-d", "classes", str(source), str(caller)]
    out = _build([compile_, [java, "-cp", "classes", "com.example.app.Caller"]], tmp_path)
    assert out.strip().endswith("called")


@pytest.mark.parametrize("variant", VARIANTS)
def test_kotlin_in_a_package_is_called_from_another(
    generator: Generator, variant: str, tmp_path: Path
) -> None:
    try:
        kotlinc = find_kotlinc()
        okhttp = maven_jar("com.squareup.okhttp3", "okhttp", "4.12.0")
        okio = maven_jar("com.squareup.okio", "okio-jvm", "3.6.0")
    except Unavailable as exc:
        require_toolchains("kotlin", str(exc))
        return
    (tmp_path / "Nevision.kt").write_text(
        generator.render("kotlin", variant, endpoint=NOWHERE, package=NAMES["kotlin"]),
        encoding="utf-8",
    )
    (tmp_path / "Caller.kt").write_text(
        "package com.example.app\n\n"
        "import com.example.errors.Nevision\n\n"
        "fun main() {\n"
        '    Nevision.report(IllegalStateException("packaged"), null)\n'
        '    println("called")\n'
        "}\n",
        encoding="utf-8",
    )
    classpath = os.pathsep.join(str(jar) for jar in (okhttp, okio))
    stdlib = kotlinc.parent.parent / "lib" / "kotlin-stdlib.jar"
    compile_ = [str(kotlinc), "-Werror", "-cp", classpath, "-d", "classes"]
    run = ["java", "-cp", os.pathsep.join(["classes", classpath, str(stdlib)])]
    out = _build(
        [[*compile_, "Nevision.kt", "Caller.kt"], [*run, "com.example.app.CallerKt"]], tmp_path
    )
    assert out.strip().endswith("called")


@pytest.mark.parametrize("variant", VARIANTS)
def test_php_in_a_namespace_is_called_with_use_function(
    generator: Generator, variant: str, tmp_path: Path
) -> None:
    try:
        php = which("php")
    except Unavailable as exc:
        require_toolchains("php", str(exc))
        return
    (tmp_path / "nevision.php").write_text(
        generator.render("php", variant, endpoint=NOWHERE, package=NAMES["php"]), encoding="utf-8"
    )
    (tmp_path / "caller.php").write_text(
        "<?php\n\ndeclare(strict_types=1);\n\nnamespace App;\n\n"
        "use function Acme\\Errors\\nevision_report;\n\n"
        "require __DIR__ . '/nevision.php';\n\n"
        "nevision_report(new \\RuntimeException('packaged'), null);\n"
        'echo "called\\n";\n',
        encoding="utf-8",
    )
    out = _build([[php, "-l", "nevision.php"], [php, "caller.php"]], tmp_path)
    assert out.strip().endswith("called")
