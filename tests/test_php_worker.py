"""PHP in a long-running worker (queue consumer, RoadRunner, Swoole, FrankenPHP worker mode).

Such a process never reaches shutdown, so reports must go out while it runs: a
full or old enough batch is sent while later reports are made, and
``nevision_flush()`` after a job delivers what that job reported. Both variants.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from generator.render import Generator
from generator.stub import Site, Stub
from generator.toolchains import Unavailable, which
from tests.support import generator_for, spec_variant
from tests.test_verify import require_toolchains

BATCH_WAIT_S = 0.3
PRELUDE = """<?php

declare(strict_types=1);

require __DIR__ . '/nevision.php';

function failed(string $message): \\RuntimeException
{
    try {
        throw new \\RuntimeException($message);
    } catch (\\RuntimeException $e) {
        return $e;
    }
}

"""


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Generator:
    wait = ("max_batch_wait_ms: 5000", f"max_batch_wait_ms: {int(BATCH_WAIT_S * 1000)}")
    return generator_for(spec_variant(tmp_path_factory.mktemp("spec"), wait))


@pytest.fixture
def stub(small: Generator) -> Iterator[Stub]:
    with Stub(small.spec, {"s1": Site("k1")}) as running:
        yield running


@contextmanager
def worker_running(
    tmp_path: Path, small: Generator, stub: Stub, variant: str, script: str
) -> Iterator[subprocess.Popen[str]]:
    """The worker script, running until the test is done with it."""
    try:
        php = which("php")
    except Unavailable as exc:
        require_toolchains("php", str(exc))
        raise AssertionError("unreachable") from exc
    code = small.render("php", variant, "s1", "k1", stub.base_url)
    (tmp_path / "nevision.php").write_text(code, encoding="utf-8")
    (tmp_path / "worker.php").write_text(PRELUDE + script, encoding="utf-8")
    worker = subprocess.Popen(
        [php, "-d", "error_log=", "worker.php"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield worker
    finally:
        worker.kill()
        worker.wait()


def messages(stub: Stub) -> list[str]:
    return [str(error.get("message")) for error in stub.errors()]


JOB_THEN_FLUSH = """
nevision_report(failed('job-1'), '/jobs/1');
$ok = nevision_flush();
echo $ok ? "flushed\\n" : "not flushed\\n";
fflush(STDOUT);
sleep(5); // waiting for the next job
"""
#: One failing job every 50 ms for 2.5 s, and no flush.
BUSY_WORKER = """
for ($job = 0; $job < 50; $job++) {
    nevision_report(failed("job-$job"), '/jobs');
    usleep(50000);
}
echo "done\\n";
fflush(STDOUT);
sleep(5);
"""


@pytest.mark.parametrize("variant", ["snippet", "reporter"])
def test_flush_after_a_job_delivers_while_the_worker_runs(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    with worker_running(tmp_path, small, stub, variant, JOB_THEN_FLUSH) as worker:
        assert worker.stdout is not None
        assert worker.stdout.readline() == "flushed\n"
        assert messages(stub) == ["job-1"]
        assert worker.poll() is None  # delivered before the worker's end, not at it


@pytest.mark.parametrize("variant", ["snippet", "reporter"])
def test_a_busy_worker_sends_while_it_reports(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    with worker_running(tmp_path, small, stub, variant, BUSY_WORKER) as worker:
        assert worker.stdout is not None
        started = time.monotonic()
        assert worker.stdout.readline() == "done\n"
        assert time.monotonic() - started < 5, "a report call waited for the network"
        sent = messages(stub)
        assert len(sent) >= 30, f"only {len(sent)} of 50 reports left while the worker ran"
        assert len(sent) == len(set(sent))
        assert worker.poll() is None
