"""Both Node.js variants on paths verify's driver does not take, run against the stub.

An agent preloaded through NODE_OPTIONS, a report from an app's own exit listener, and a
hostile reply that would spread over many log lines.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from generator.languages import VARIANTS
from generator.render import Generator
from generator.stub import Faults, Site, Stub
from tests.support import require_toolchain

#: An agent that keeps the event loop alive for good, as APM and metrics agents do.
PRELOAD = "setInterval(() => {}, 1000);\n"


@dataclass
class Ran:
    returncode: int
    stderr: str
    took_s: float


def run_node(
    tmp_path: Path,
    generator: Generator,
    variant: str,
    stub: Stub,
    script: str,
    env: dict[str, str] | None = None,
) -> Ran:
    node = shutil.which("node")
    if node is None:
        require_toolchain("node", "node is not on PATH")
    code = generator.render("node", variant, "s1", "k1", stub.base_url)
    (tmp_path / "nevision.cjs").write_text(code, encoding="utf-8")
    (tmp_path / "app.cjs").write_text(
        'const { reportError } = require("./nevision.cjs");\n' + script, encoding="utf-8"
    )
    base = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    started = time.monotonic()
    result = subprocess.run(
        [node, "app.cjs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **(env or {})},
    )
    return Ran(result.returncode, result.stderr, time.monotonic() - started)


def messages(stub: Stub) -> list[str]:
    return sorted(str(e.get("message")) for e in stub.errors())


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_preloaded_agent_neither_delays_the_exit_nor_fakes_a_failure(
    tmp_path: Path, generator: Generator, variant: str
) -> None:
    (tmp_path / "agent.cjs").write_text(PRELOAD, encoding="utf-8")
    script = 'reportError(new Error("before exit"), "/x");\nprocess.exit(3);\n'
    with Stub(generator.spec, {"s1": Site("k1")}) as stub:
        ran = run_node(
            tmp_path, generator, variant, stub, script,
            env={"NODE_OPTIONS": f"--require {tmp_path / 'agent.cjs'}"},
        )  # fmt: skip
        stub.wait_for(1, timeout=2)
        assert messages(stub) == ["before exit"]
    assert ran.returncode == 3
    assert ran.stderr == ""  # delivered: nothing to say
    assert ran.took_s < 1.5, f"the exit took {ran.took_s:.2f} s"


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_report_from_an_exit_listener_is_delivered(
    tmp_path: Path, generator: Generator, variant: str
) -> None:
    script = (
        'process.on("exit", (code) => reportError(new Error(`exit ${code}`), "/x"));\n'
        'reportError(new Error("during the run"), "/x");\n'
        "process.exit(4);\n"
    )
    with Stub(generator.spec, {"s1": Site("k1")}) as stub:
        ran = run_node(tmp_path, generator, variant, stub, script)
        stub.wait_for(2, timeout=2)
        assert messages(stub) == ["during the run", "exit 4"]
    assert ran.returncode == 4


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_hostile_reply_is_one_log_line(
    tmp_path: Path, generator: Generator, variant: str
) -> None:
    page = b"<html>\r\n<body>413 Request Entity Too Large</body>\nnevision: forged\n\x1b[31mred\n"
    script = 'reportError(new Error("one"), "/x");\n'
    with Stub(generator.spec, {"s1": Site("k1")}, faults=Faults(status=413, body=page)) as stub:
        ran = run_node(tmp_path, generator, variant, stub, script)
    lines = ran.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nevision: "), ran.stderr
    assert "\x1b" not in ran.stderr
