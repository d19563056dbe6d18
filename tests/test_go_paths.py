"""Both Go variants on paths verify's driver does not take, built and run against the stub.

A log writer that reports (so the reporter's own log line re-enters the log package), and
long messages that must not stay alive through the short text that is queued.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

from generator.languages import VARIANTS
from generator.render import Generator
from generator.stub import Faults, Site, Stub
from tests.support import generator_for, require_toolchain, spec_variant

MODULE = "nevisiontest"
#: The endpoint holds every request this long: nothing is ever answered in a test.
HANG_S = 30.0

LOG_WRITER = """\
package main

import (
	"errors"
	"fmt"
	"log"
	"time"

	"nevisiontest/nevision"
)

// reporting forwards each log line to nevision, as an app's logging hook does.
type reporting struct{}

func (reporting) Write(p []byte) (int, error) {
	nevision.Report(errors.New(string(p)), "/log")
	return len(p), nil
}

func main() {
	log.SetOutput(reporting{})
	done := make(chan struct{})
	go func() {
		for i := 0; i < 50; i++ { // far more than the queue holds: the "full" line is logged
			log.Printf("job %d failed", i)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		fmt.Println(`{"finished": false}`)
		return
	}
	other := make(chan struct{})
	go func() { log.Print("after the storm"); close(other) }()
	select {
	case <-other:
		fmt.Println(`{"finished": true, "logs_after": true}`)
	case <-time.After(2 * time.Second):
		fmt.Println(`{"finished": true, "logs_after": false}`)
	}
}
"""

LONG_MESSAGES = """\
package main

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"nevisionverify/nevision"
)

func main() {
	for i := 0; i < 200; i++ {
		// Each message is its own 1 MiB string, as a wrapped response body would be.
		nevision.Report(errors.New(strings.Repeat(string(rune('a'+i%26)), 1<<20)), "/big")
	}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Printf(`{"heap_mib": %d}`+"\\n", m.HeapInuse>>20)
}
""".replace("nevisionverify", MODULE)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Generator:
    folder = tmp_path_factory.mktemp("spec")
    return generator_for(spec_variant(folder, ("queue_size: 1000", "queue_size: 5")))


def build_and_run(
    tmp_path: Path, generator: Generator, variant: str, program: str, stub: Stub
) -> dict[str, Any]:
    go = shutil.which("go")
    if go is None:
        require_toolchain("go", "go is not on PATH")
    package = tmp_path / "nevision"
    package.mkdir()
    code = generator.render("go", variant, "s1", "k1", stub.base_url)
    (package / "nevision.go").write_text(code, encoding="utf-8")
    (tmp_path / "go.mod").write_text(f"module {MODULE}\n\ngo 1.19\n", encoding="utf-8")
    (tmp_path / "main.go").write_text(textwrap.dedent(program), encoding="utf-8")
    subprocess.run([go, "build", "-o", "program", "."], cwd=tmp_path, check=True, timeout=300)
    result = subprocess.run(
        [str(tmp_path / "program")], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    figures: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return figures


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_log_writer_that_reports_never_deadlocks(
    tmp_path: Path, small: Generator, variant: str
) -> None:
    with Stub(small.spec, {"s1": Site("k1")}, faults=Faults(delay_s=HANG_S)) as stub:
        figures = build_and_run(tmp_path, small, variant, LOG_WRITER, stub)
    assert figures == {"finished": True, "logs_after": True}


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_queued_report_keeps_only_its_cut_text_alive(
    tmp_path: Path, generator: Generator, variant: str
) -> None:
    with Stub(generator.spec, {"s1": Site("k1")}, faults=Faults(delay_s=HANG_S)) as stub:
        figures = build_and_run(tmp_path, generator, variant, LONG_MESSAGES, stub)
    # 200 queued reports of 1 MiB messages, each cut to max_message_length bytes.
    assert figures["heap_mib"] < 16, figures
