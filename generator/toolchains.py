"""How each language's generated code is built and run by ``verify``.

A recipe names the tools it needs, the commands that build the generated file
together with a driver program (warnings as errors where the toolchain has
them), and the command that runs the result. A tool that is not installed
makes the recipe report why, so verify can skip with a reason.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from generator.spec import Spec

#: Where `.ci/install-toolchains` puts what has no system package.
TOOLS_HOME = Path(os.environ.get("NEVISION_TOOLS", Path.home() / ".cache" / "nevision-snippets"))
MAVEN_REPO = Path.home() / ".m2" / "repository"
#: OkHttp's own runtime dependency (not named in the spec: it is transitive).
OKIO = ("com.squareup.okio", "okio-jvm", "3.6.0")


class Unavailable(Exception):
    """A tool or library the recipe needs is not on this machine."""


@dataclass(frozen=True)
class Build:
    """Commands, run in the work folder, that build and then run the driver."""

    steps: list[list[str]]
    run: list[str]


def _proxy_variables(host: str, port: int) -> dict[str, str]:
    """The variables Python's urllib and libcurl read (libcurl only the lower-case one)."""
    url = f"http://{host}:{port}"
    return {"http_proxy": url, "HTTP_PROXY": url, "https_proxy": url, "HTTPS_PROXY": url}


def _jvm_proxy_properties(host: str, port: int) -> dict[str, str]:
    """The JVM's own proxy settings, read by the default ProxySelector.

    The JDK appends its loopback defaults to any non-empty ``http.nonProxyHosts``;
    only an empty one lets 127.0.0.1, where the stub runs, go through the proxy.
    """
    properties = f"-Dhttp.proxyHost={host} -Dhttp.proxyPort={port} -Dhttp.nonProxyHosts="
    return {"JAVA_TOOL_OPTIONS": properties}


@dataclass(frozen=True)
class Toolchain:
    #: File name the driver program is written to.
    driver_file: str
    #: Returns the build, or raises :class:`Unavailable` saying what is missing.
    recipe: Callable[[Path, Spec, str], Build]
    #: The ``exception_type`` the driver's exception must be sent with, by the spec's
    #: definition (``sources.exception_type``): written here, not taken from the driver,
    #: and qualified wherever the language has modules, packages or namespaces.
    driver_type: str
    #: Whether the language's programs can fork (the fork case).
    forks: bool = False
    #: The environment that makes the language's standard HTTP client use a proxy
    #: at ``(host, port)``; None where no such setting applies to the run.
    proxy_env: Callable[[str, int], dict[str, str]] | None = None
    #: Why the proxy case does not apply, where ``proxy_env`` is None.
    no_proxy: str = ""

    def prepare(self, work: Path, spec: Spec, generated: str) -> Build:
        return self.recipe(work, spec, generated)


def which(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise Unavailable(f"{tool} is not on PATH")
    return found


def maven_jar(group: str, artifact: str, version: str) -> Path:
    jar = MAVEN_REPO.joinpath(*group.split("."), artifact, version, f"{artifact}-{version}.jar")
    if not jar.is_file():
        raise Unavailable(f"{group}:{artifact}:{version} is not in {MAVEN_REPO}")
    return jar


def _python(work: Path, spec: Spec, generated: str) -> Build:
    return Build(
        steps=[
            [sys.executable, "-m", "black", "--check", "--quiet", generated],
            [sys.executable, "-m", "py_compile", generated, "driver.py"],
        ],
        run=[sys.executable, "driver.py"],
    )


def _php(work: Path, spec: Spec, generated: str) -> Build:
    php = which("php")
    probe = subprocess.run(
        [php, "-r", "echo function_exists('curl_init') ? 'yes' : 'no';"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.stdout != "yes":
        raise Unavailable("php has no curl extension (apt-get install php-curl)")
    return Build(
        steps=[[php, "-l", generated], [php, "-l", "driver.php"]],
        # error_log() goes to stderr in the CLI unless an ini file redirects it.
        run=[php, "-d", "error_log=", "-d", "display_errors=stderr", "driver.php"],
    )


def _java(work: Path, spec: Spec, generated: str) -> Build:
    javac, java = which("javac"), which("java")
    return Build(
        steps=[[javac, "-Xlint:all", "-Werror", "-d", "classes", generated, "Driver.java"]],
        run=[java, "-cp", "classes", "Driver"],
    )


def _kotlin_jars(spec: Spec) -> list[Path]:
    """The libraries the spec names for Kotlin, from the local Maven repository, and okio."""
    jars = []
    for library in spec.languages["kotlin"].libraries:
        group, _, artifact = library.name.partition(":")
        jars.append(maven_jar(group, artifact, library.version))
    jars.append(maven_jar(*OKIO))
    return jars


def find_kotlinc() -> Path:
    """kotlinc-jvm on PATH, or the newest one `.ci/install-toolchains` put in TOOLS_HOME."""
    on_path = shutil.which("kotlinc-jvm")
    if on_path:
        return Path(on_path).resolve()
    installed = sorted(TOOLS_HOME.glob("kotlin-*/node_modules/kotlin-compiler/bin/kotlinc-jvm"))
    if not installed:
        raise Unavailable(
            f"kotlinc-jvm is neither on PATH nor in {TOOLS_HOME} (run .ci/install-toolchains)"
        )
    return installed[-1]


def _kotlin(work: Path, spec: Spec, generated: str) -> Build:
    kotlinc = find_kotlinc()
    java = which("java")
    stdlib = kotlinc.parent.parent / "lib" / "kotlin-stdlib.jar"
    if not stdlib.is_file():
        raise Unavailable(f"no kotlin-stdlib.jar beside {kotlinc}")
    classpath = os.pathsep.join(str(jar) for jar in _kotlin_jars(spec))
    compile_ = [str(kotlinc), "-Werror", "-cp", classpath, "-d", "classes", generated, "Driver.kt"]
    return Build(
        steps=[compile_],
        run=[java, "-cp", os.pathsep.join(["classes", classpath, str(stdlib)]), "DriverKt"],
    )


def _csharp(work: Path, spec: Spec, generated: str) -> Build:
    dotnet = which("dotnet")
    version = subprocess.run(
        [dotnet, "--version"], capture_output=True, text=True, timeout=120
    ).stdout.strip()
    major = re.match(r"\d+", version)
    if major is None:
        raise Unavailable(f"dotnet --version said {version!r}")
    (work / "Verify.csproj").write_text(
        '<Project Sdk="Microsoft.NET.Sdk">\n'
        "  <PropertyGroup>\n"
        "    <OutputType>Exe</OutputType>\n"
        f"    <TargetFramework>net{major.group()}.0</TargetFramework>\n"
        "    <ImplicitUsings>disable</ImplicitUsings>\n"
        "    <Nullable>enable</Nullable>\n"
        "    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>\n"
        "  </PropertyGroup>\n"
        "</Project>\n",
        encoding="utf-8",
    )
    return Build(
        steps=[[dotnet, "build", "--nologo", "-v", "q", "-c", "Release", "-o", "bin"]],
        run=[dotnet, str(Path("bin") / "Verify.dll")],
    )


#: The Swift module verify builds (named, so the driver's type names do not follow ``-o``).
_SWIFT_MODULE = "Shop"


def _swift(work: Path, spec: Spec, generated: str) -> Build:
    swiftc = which("swiftc")
    compile_ = [swiftc, "-warnings-as-errors", "-module-name", _SWIFT_MODULE, generated]
    return Build(
        steps=[[*compile_, "main.swift", "-o", "driver"]],
        run=[str(work / "driver")],
    )


def find_tsc() -> Path:
    """tsc from the TypeScript `.ci/install-toolchains` put in TOOLS_HOME (with @types/node)."""
    tsc = TOOLS_HOME / "typescript" / "node_modules" / ".bin" / "tsc"
    if not tsc.is_file():
        raise Unavailable(f"TypeScript is not in {tsc.parent} (run .ci/install-toolchains)")
    return tsc


def _node(work: Path, spec: Spec, generated: str) -> Build:
    node = which("node")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=60
    ).stdout.strip()
    major = re.match(r"v(\d+)", version)
    if major is None or int(major.group(1)) < 18:
        raise Unavailable(f"node {version or '?'} is older than 18 (no built-in fetch)")
    tsc = find_tsc()
    # The generated file's JSDoc, checked as a TypeScript user in strict mode would.
    typescript = [
        str(tsc), "--strict", "--allowJs", "--checkJs", "--noEmit", "--skipLibCheck",
        "--target", "es2022", "--module", "nodenext", "--moduleResolution", "nodenext",
        "--types", "node", "--typeRoots", str(tsc.parent.parent / "@types"), generated,
    ]  # fmt: skip
    return Build(
        steps=[
            [node, "--check", generated],
            [node, "--check", "driver.mjs"],
            # The one file loads as CommonJS too, not only from the ES-module driver.
            [node, "-e", f"require('./{generated}')"],
            typescript,
        ],
        run=[node, "driver.mjs"],
    )


#: The Go module verify builds: the generated package beside a main package.
_GO_MODULE = "nevisionverify"


def _go(work: Path, spec: Spec, generated: str) -> Build:
    go, gofmt = which("go"), which("gofmt")
    package = work / "nevision"
    package.mkdir(exist_ok=True)
    if (work / generated).exists():
        (work / generated).replace(package / generated)
    (work / "go.mod").write_text(f"module {_GO_MODULE}\n\ngo 1.19\n", encoding="utf-8")
    # gofmt -l lists unformatted files and still exits 0: a listed file fails the step.
    unformatted = [
        sys.executable, "-c",
        "import subprocess, sys; out = subprocess.run(sys.argv[1:], capture_output=True, "
        "text=True); print(out.stdout + out.stderr, end=''); "
        "sys.exit(1 if out.returncode or out.stdout.strip() else 0)",
        gofmt, "-l", ".",
    ]  # fmt: skip
    return Build(
        steps=[unformatted, [go, "vet", "./..."], [go, "build", "-o", "driver", "."]],
        run=[str(work / "driver")],
    )


def _ruby(work: Path, spec: Spec, generated: str) -> Build:
    ruby, rubocop = which("ruby"), which("rubocop")
    return Build(
        steps=[
            [ruby, "-wc", generated],
            [ruby, "-wc", "driver.rb"],
            # RuboCop's default configuration: what a Ruby codebase runs.
            [rubocop, "--cache", "false", "--format", "simple", generated],
        ],
        run=[ruby, "-W:no-experimental", "driver.rb"],
    )


TOOLCHAINS: dict[str, Toolchain] = {
    "python": Toolchain(
        "driver.py",
        _python,
        # A nested class whose module is a package: module.QualName.
        driver_type="shop.billing.Checkout.PaymentError",
        forks=True,
        proxy_env=_proxy_variables,
    ),
    "php": Toolchain(
        "driver.php",
        _php,
        driver_type=r"Shop\Billing\PaymentError",
        forks=True,
        proxy_env=_proxy_variables,
    ),
    # Nested classes: Class.getName() joins them with "$".
    "java": Toolchain(
        "Driver.java", _java, driver_type="Driver$PaymentError", proxy_env=_jvm_proxy_properties
    ),
    "kotlin": Toolchain(
        "Driver.kt", _kotlin, driver_type="Checkout$PaymentError", proxy_env=_jvm_proxy_properties
    ),
    # .NET reads HTTP_PROXY but never proxies a loopback address such as the stub's.
    "csharp": Toolchain(
        "Program.cs",
        _csharp,
        # A nested class in a namespace: Type.FullName joins it with "+".
        driver_type="Shop.Billing.Checkout+PaymentException",
        no_proxy=".NET never proxies a loopback address like the stub's",
    ),
    # Node's http and fetch read no proxy setting (before NODE_USE_ENV_PROXY in Node 24).
    "node": Toolchain(
        "driver.mjs",
        _node,
        # The constructor's name, though the instance's `name` is still "Error".
        driver_type="PaymentError",
        no_proxy="Node's http and fetch read no proxy setting",
    ),
    # Go's ProxyFromEnvironment never proxies a loopback address such as the stub's.
    "go": Toolchain(
        "main.go",
        _go,
        # What errors.New returns, as %T prints it.
        driver_type="*errors.errorString",
        no_proxy="Go never proxies a loopback address like the stub's",
    ),
    "ruby": Toolchain(
        "driver.rb",
        _ruby,
        driver_type="Billing::PaymentError",
        forks=True,
        no_proxy="Net::HTTP never proxies a loopback address like the stub's",
    ),
    "swift": Toolchain(
        "main.swift",
        _swift,
        driver_type=f"{_SWIFT_MODULE}.Billing.PaymentError",
        no_proxy="no standard proxy setting to give",
    ),
}
