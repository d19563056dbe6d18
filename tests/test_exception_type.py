"""``type`` means what the spec says (``sources.exception_type``), run for real against the stub.

Python names a class as a traceback does, ``module.QualName`` without builtins and
__main__, and never raises for a class whose names are not text or raise; Node.js names
the constructor, Ruby the (namespaced) class. Each error's fingerprint follows its type.
verify holds each language to a type fixed in its toolchain, not to what its driver says.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from generator.languages import LANGUAGES, VARIANTS
from generator.render import Generator, make_env
from generator.stub import Site, Stub
from generator.toolchains import TOOLCHAINS
from generator.verify import API_KEY, SITE_ID, CheckFailed, Harness, running
from tests.support import ROOT, run_python
from tests.test_verify import require_toolchains

#: Imported by the Python script: a package with a class, a nested class and a local one.
BILLING = """\
class PaymentError(Exception):
    pass


class Outer:
    class Inner(Exception):
        pass


def local_error():
    class Local(Exception):
        pass

    return Local
"""

#: Classes whose names are not text, or raise when asked for.
HOSTILE = """\
class OddModule(Exception):
    __module__ = 42  # not text: a traceback prints <unknown>


class _Text(str):
    def __eq__(self, other):
        raise RuntimeError("no comparison for you")

    __hash__ = str.__hash__


class TextModule(Exception):
    __module__ = _Text("hostile.text")


def _meta(names, value=None):
    class Meta(type):
        def __getattribute__(cls, name):
            if name not in names:
                return super().__getattribute__(name)
            if value is None:
                raise RuntimeError("no " + name + " for you")
            return value

    return Meta


class NumberQualname(Exception, metaclass=_meta({"__qualname__"}, 42)):
    pass


class NoNames(Exception, metaclass=_meta({"__qualname__", "__module__"})):
    pass


class Nameless(Exception, metaclass=_meta({"__qualname__", "__module__", "__name__"})):
    pass
"""

#: Each case: the expression the script raises, and the type it must be sent with.
PYTHON_CASES = {
    "builtin": ("ValueError('builtin')", "ValueError"),
    "builtin-os": ("FileNotFoundError(2, 'gone')", "FileNotFoundError"),
    "stdlib": ("json.JSONDecodeError('stdlib', '', 0)", "json.decoder.JSONDecodeError"),
    "package": ("billing.PaymentError('package')", "myapp.billing.PaymentError"),
    "nested": ("billing.Outer.Inner('nested')", "myapp.billing.Outer.Inner"),
    "local": ("billing.local_error()('local')", "myapp.billing.local_error.<locals>.Local"),
    "main": ("LocalError('main')", "LocalError"),
    "main-nested": ("Handler.Failed('main nested')", "Handler.Failed"),
    "odd-module": ("hostile.OddModule('odd')", "<unknown>.OddModule"),
    "text-module": ("hostile.TextModule('text')", "hostile.text.TextModule"),
    "number-qualname": ("hostile.NumberQualname('number')", "hostile.NumberQualname"),
    "no-names": ("hostile.NoNames('none')", "<unknown>.NoNames"),
    "nameless": ("hostile.Nameless('nameless')", "<unknown>.<unknown>"),
}
#: Where a traceback cannot name the class, the report goes without a stack.
UNPRINTABLE = {"text-module", "number-qualname", "no-names", "nameless"}

PYTHON_SCRIPT = """\
import json

import hostile
import nevision
from myapp import billing


class LocalError(Exception):
    pass


class Handler:
    class Failed(Exception):
        pass


CASES = {{{cases}}}
for case, make in CASES.items():
    try:
        raise make()
    except Exception as exc:
        nevision.report_error(exc, "/" + case)
print(json.dumps({{"reported": len(CASES)}}))
"""


@pytest.fixture
def stub(generator: Generator) -> Iterator[Stub]:
    with Stub(generator.spec, {"s1": Site("k1")}) as running:
        yield running


def sent(generator: Generator, stub: Stub, count: int) -> dict[str, dict[str, Any]]:
    """The errors the stub received, by route; each fingerprint checked against its type."""
    stub.wait_for(1, timeout=5)
    assert [p for r in stub.received for p in r.problems] == []
    errors = {str(error["url"]): error for error in stub.errors()}
    assert len(errors) == count, sorted(errors)
    recipe = generator.spec.fingerprint
    for route, error in errors.items():
        parts = {"exception_type": error["type"], "route": route}
        assert error["fingerprint"] == recipe.separator.join(parts[p] for p in recipe.parts)
    return errors


@pytest.mark.parametrize("variant", VARIANTS)
def test_python_names_a_class_as_a_traceback_does(
    tmp_path: Path, generator: Generator, stub: Stub, variant: str
) -> None:
    (tmp_path / "myapp").mkdir()
    (tmp_path / "myapp" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "myapp" / "billing.py").write_text(BILLING, encoding="utf-8")
    (tmp_path / "hostile.py").write_text(HOSTILE, encoding="utf-8")
    cases = ", ".join(f"{case!r}: lambda: {make}" for case, (make, _) in PYTHON_CASES.items())
    code = generator.render("python", variant, "s1", "k1", stub.base_url)
    figures, stderr = run_python(tmp_path, code, PYTHON_SCRIPT.format(cases=cases))
    assert (figures, stderr) == ({"reported": len(PYTHON_CASES)}, "")
    errors = sent(generator, stub, len(PYTHON_CASES))
    assert {route: e["type"] for route, e in errors.items()} == {
        "/" + case: expected for case, (_, expected) in PYTHON_CASES.items()
    }
    for case, (_, expected) in PYTHON_CASES.items():
        error = errors["/" + case]
        if case in UNPRINTABLE:
            assert "stack" not in error, case
        else:  # the same name as the last line of the traceback
            assert error["stack"].splitlines()[-1].startswith(expected + ": "), case


NODE_SCRIPT = """\
const { reportError } = require("./nevision.cjs");

class PaymentError extends Error {}

class RenamedError extends Error {
  constructor(message) {
    super(message);
    this.name = "Renamed";
  }
}

const Anonymous = (() => class extends TypeError {})();

const cases = {
  builtin: () => new TypeError("builtin"),
  subclass: () => new PaymentError("subclass"),
  renamed: () => new RenamedError("renamed"),
  anonymous: () => new Anonymous("anonymous"),
  "null-prototype": () => Object.create(null),
  string: () => "just text",
};
for (const [name, make] of Object.entries(cases)) {
  try {
    throw make();
  } catch (error) {
    reportError(error, "/" + name);
  }
}
"""
NODE_TYPES = {
    "/builtin": "TypeError",
    "/subclass": "PaymentError",
    "/renamed": "RenamedError",
    "/anonymous": "TypeError",
    "/null-prototype": "Object",
    "/string": "string",
}

RUBY_SCRIPT = """\
require "json"
require_relative "nevision"

module Shop
  module Billing
    class PaymentError < StandardError; end
  end
end

anonymous = Class.new(ArgumentError)
cases = {
  "builtin" => -> { ArgumentError.new("builtin") },
  "namespaced" => -> { Shop::Billing::PaymentError.new("namespaced") },
  "stdlib" => -> { JSON::ParserError.new("stdlib") },
  "anonymous" => -> { anonymous.new("anonymous") }
}
cases.each do |name, make|
  raise make.call
rescue StandardError => e
  Nevision.report(e, "/#{name}")
end
"""
RUBY_TYPES = {
    "/builtin": "ArgumentError",
    "/namespaced": "Shop::Billing::PaymentError",
    "/stdlib": "JSON::ParserError",
    "/anonymous": "ArgumentError",
}

PHP_SCRIPT = """\
<?php
namespace Shop\\Billing;

require __DIR__ . '/nevision.php';

final class PaymentError extends \\DomainException {}

$cases = [
    'builtin' => fn() => new \\RuntimeException('builtin'),
    'namespaced' => fn() => new PaymentError('namespaced'),
    'anonymous' => fn() => new class('anonymous') extends \\LogicException {},
];
foreach ($cases as $name => $make) {
    try {
        throw $make();
    } catch (\\Throwable $e) {
        \\nevision_report($e, "/$name");
    }
}
"""
PHP_TYPES = {
    "/builtin": "RuntimeException",
    "/namespaced": "Shop\\Billing\\PaymentError",
    # get_class() goes on after a NUL with the file; PHP's own message stops there.
    "/anonymous": "LogicException@anonymous",
}

OTHERS = {
    "php": ("php", "script.php", PHP_SCRIPT, PHP_TYPES),
    "node": ("node", "script.cjs", NODE_SCRIPT, NODE_TYPES),
    "ruby": ("ruby", "script.rb", RUBY_SCRIPT, RUBY_TYPES),
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("language", list(OTHERS))
def test_php_node_and_ruby_name_the_class(
    tmp_path: Path, generator: Generator, stub: Stub, language: str, variant: str
) -> None:
    tool, script, source, types = OTHERS[language]
    runtime = shutil.which(tool)
    if runtime is None:
        require_toolchains(language, f"{tool} is not on PATH")
        return
    code = generator.render(language, variant, "s1", "k1", stub.base_url)
    (tmp_path / LANGUAGES[language].filename).write_text(code, encoding="utf-8")
    (tmp_path / script).write_text(source, encoding="utf-8")
    result = subprocess.run(
        [runtime, script], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stderr) == (0, "")
    errors = sent(generator, stub, len(types))
    assert {route: e["type"] for route, e in errors.items()} == types


@pytest.mark.parametrize("broken", [False, True], ids=["as-defined", "bare-name"])
def test_verify_wants_the_defined_type_not_the_drivers(
    tmp_path: Path, generator: Generator, broken: bool
) -> None:
    """Code that sends the bare class name fails verify's round trip, whatever its driver says."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    if broken:
        snippet = templates / "python" / "snippet.py.j2"
        text = snippet.read_text(encoding="utf-8")
        assert text.count("= _type_name(exc)") == 1, "the snippet's type moved"
        snippet.write_text(text.replace("= _type_name(exc)", "= type(exc).__name__"), "utf-8")
    harness = Harness(
        Generator(generator.spec, make_env(templates)), LANGUAGES["python"], "snippet", tmp_path
    )
    stub = Stub(generator.spec, {SITE_ID: Site(API_KEY)})
    with running(stub):
        harness.write_sources(stub)
        build = harness.prepare()
        harness.build(build.steps)
        if broken:
            with pytest.raises(CheckFailed) as failure:
                harness.check_round_trip(stub, build.run)
            wanted = TOOLCHAINS["python"].driver_type
            assert str(failure.value) == f'type: sent "PaymentError", expected "{wanted}"'
        else:
            harness.check_round_trip(stub, build.run)
