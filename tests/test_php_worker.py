"""PHP in a long-running worker (queue consumer, RoadRunner, Swoole, FrankenPHP worker mode).

Such a process never reaches shutdown, so reports must go out while it runs: a
full or old enough batch is sent while later reports are made, and
``nevision_flush()`` after a job delivers what that job reported. Both variants.
The end of a script is here too: what PHP runs after its last line (shutdown
functions that exit(), destructors), php -S, a PHP without curl, a huge reply.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from generator.render import Generator
from generator.stub import Faults, Site, Stub
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


# -- the end of a script: what PHP runs after the last line ------------------------------


def run_to_end(
    tmp_path: Path,
    small: Generator,
    stub: Stub,
    variant: str,
    script: str,
    *args: str,
    php_options: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """The script, run to its end with ``args``; ``php_options`` go before it (``-n``, ``-d``)."""
    try:
        php = which("php")
    except Unavailable as exc:
        require_toolchains("php", str(exc))
        raise AssertionError("unreachable") from exc
    code = small.render("php", variant, "s1", "k1", stub.base_url)
    (tmp_path / "nevision.php").write_text(code, encoding="utf-8")
    (tmp_path / "script.php").write_text(PRELUDE + script, encoding="utf-8")
    return subprocess.run(
        [php, *php_options, "-d", "error_log=", "script.php", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )


#: The application's own shutdown function sets the exit status with exit(), registered
#: before or after the first report: PHP then skips every shutdown function after it.
EXIT_IN_SHUTDOWN = """
$order = $argv[1];
$exit = static function (): void {
    exit(3);
};
if ($order === 'before') {
    register_shutdown_function($exit);
}
nevision_report(failed("exit-$order"), '/cli');
if ($order === 'after') {
    register_shutdown_function($exit);
}
"""


@pytest.mark.parametrize("order", ["before", "after"])
@pytest.mark.parametrize("variant", ["snippet", "reporter"])
def test_an_exit_in_another_shutdown_function_still_delivers(
    tmp_path: Path, small: Generator, stub: Stub, variant: str, order: str
) -> None:
    ended = run_to_end(tmp_path, small, stub, variant, EXIT_IN_SHUTDOWN, order)
    assert ended.returncode == 3, ended.stderr
    stub.wait_for(1, timeout=2)
    assert messages(stub) == [f"exit-{order}"]
    assert "nevision:" not in ended.stderr


#: Objects that report from their destructors, which PHP runs after the shutdown functions
#: (the exit send among them): one in a global, or one in a static property made after the
#: first report, which PHP destroys after the reporter's own objects (in creation order).
REPORT_IN_DESTRUCTOR = """
final class UnitOfWork
{
    public static ?self $kept = null;

    public function __construct(private string $name)
    {
    }

    public function __destruct()
    {
        nevision_report(failed($this->name), '/uow');
    }
}

$mode = $argv[1];
if ($mode === 'only') {
    $uow = new UnitOfWork('from-destructor');
} elseif ($mode === 'also-main') {
    $uow = new UnitOfWork('from-destructor');
    nevision_report(failed('from-main'), '/main');
} else { // after-exit
    $main = failed('from-main'); // kept, so no object handle is free for reuse:
    nevision_report($main, '/main');
    UnitOfWork::$kept = new UnitOfWork('from-destructor'); // destroyed after the reporter's objects
    register_shutdown_function(static function (): void {
        exit(0);
    });
}
"""


@pytest.mark.parametrize("mode", ["only", "also-main", "after-exit"])
@pytest.mark.parametrize("variant", ["snippet", "reporter"])
def test_a_report_from_a_destructor_at_script_end_is_delivered(
    tmp_path: Path, small: Generator, stub: Stub, variant: str, mode: str
) -> None:
    ended = run_to_end(tmp_path, small, stub, variant, REPORT_IN_DESTRUCTOR, mode)
    assert ended.returncode == 0, ended.stderr
    expected = ["from-destructor"] if mode == "only" else ["from-destructor", "from-main"]
    stub.wait_for(len(expected), timeout=2)
    assert sorted(messages(stub)) == expected
    assert "nevision:" not in ended.stderr


NO_CURL = """
for ($i = 0; $i < 45; $i++) {
    nevision_report(failed("no-curl-$i"), '/x');
}
echo json_encode(['flushed' => nevision_flush(100), 'dropped' => nevision_dropped()]), "\\n";
"""


def test_without_curl_the_reporter_says_nothing_was_sent(
    tmp_path: Path, small: Generator, stub: Stub
) -> None:
    ended = run_to_end(tmp_path, small, stub, "reporter", NO_CURL, php_options=("-n",))
    if '"flushed"' not in ended.stdout and "curl" not in ended.stderr:
        pytest.skip(f"php -n did not run the script: {ended.stderr.strip()}")
    if "nevision:" not in ended.stderr:
        pytest.skip("this php has ext-curl built in: php -n cannot leave it out")
    assert ended.returncode == 0, ended.stderr
    assert json.loads(ended.stdout) == {"flushed": False, "dropped": 45}


#: Text of three-byte characters: every cut in bytes falls inside a character unless the
#: cut is made at a character's start.
CUT_TEXT = """
nevision_report(failed(str_repeat('€', 2000)), str_repeat('€', 5000));
"""


@pytest.mark.parametrize("variant", ["snippet", "reporter"])
def test_message_and_route_are_cut_at_a_character(
    tmp_path: Path, small: Generator, stub: Stub, variant: str
) -> None:
    ended = run_to_end(tmp_path, small, stub, variant, CUT_TEXT)
    assert ended.returncode == 0, ended.stderr
    stub.wait_for(1, timeout=2)
    (error,) = stub.errors()
    spec = small.spec
    name = {field.source: field.name for field in spec.payload.error_fields}
    route = "€" * (spec.reporter.max_route_length // 3)
    assert error[name["message"]] == "€" * (spec.reporter.max_message_length // 3)
    assert error[name["route"]] == route
    assert error[name["fingerprint"]].endswith(spec.fingerprint.separator + route)


#: A worker whose memory_limit is below the endpoint's reply (a hostile or broken
#: endpoint): the reports go on, sent while it works.
HUGE_REPLY_WORKER = """
for ($job = 0; $job < 30; $job++) {
    nevision_report(failed("job-$job"), '/jobs');
    usleep(50000);
}
echo "done\\n";
"""


@pytest.mark.parametrize("variant", ["snippet", "reporter"])
def test_a_reply_larger_than_the_memory_limit_does_not_kill_the_worker(
    tmp_path: Path, small: Generator, variant: str
) -> None:
    reply = b'{"pad": "' + b" " * (96 << 20) + b'", "accepted": 1}'
    with Stub(small.spec, {"s1": Site("k1")}, faults=Faults(body=reply)) as stub:
        ended = run_to_end(
            tmp_path,
            small,
            stub,
            variant,
            HUGE_REPLY_WORKER,
            php_options=("-d", "memory_limit=64M"),
        )
        assert ended.returncode == 0, ended.stderr
        assert ended.stdout == "done\n"
        assert stub.arrivals >= 2  # sent while the worker ran, not only at its end


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PAGE = """
nevision_report(failed('page'), $_SERVER['REQUEST_URI'] ?? null);
header('Content-Length: 3');
echo "ok\\n";
"""


@pytest.mark.parametrize("variant", ["snippet", "reporter"])
def test_without_fastcgi_finish_request_the_page_is_not_held_back(
    tmp_path: Path, small: Generator, variant: str
) -> None:
    """php -S (and Apache mod_php) cannot end a response early: the page goes out first."""
    try:
        php = which("php")
    except Unavailable as exc:
        require_toolchains("php", str(exc))
        raise AssertionError("unreachable") from exc
    with Stub(small.spec, {"s1": Site("k1")}, faults=Faults(delay_s=3.0)) as stub:
        code = small.render("php", variant, "s1", "k1", stub.base_url)
        (tmp_path / "nevision.php").write_text(code, encoding="utf-8")
        (tmp_path / "index.php").write_text(PRELUDE + PAGE, encoding="utf-8")
        port = free_port()
        server = subprocess.Popen(
            [php, "-d", "error_log=", "-S", f"127.0.0.1:{port}", "-t", str(tmp_path)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 5
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "php -S did not start"
                    time.sleep(0.05)
            started = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.php", timeout=10) as page:
                assert page.read() == b"ok\n"
            assert time.monotonic() - started < 1, "the visitor waited for the send"
            stub.wait_for(1, timeout=5)
            assert messages(stub) == ["page"]
        finally:
            server.kill()
            server.wait()
