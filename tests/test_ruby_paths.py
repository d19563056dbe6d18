"""Both Ruby variants on paths verify's driver does not take, run against the stub.

A report from a signal handler (trap context, where no Mutex can be taken), from an
at_exit hook that runs after the reporter's own flush, and a reply trickled a byte at a
time, which Net::HTTP's per-read timeouts never end.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.languages import VARIANTS
from generator.render import Generator
from generator.stub import Site, Stub
from tests.support import require_toolchain

SIGNAL = """\
trap("USR1") do
  Nevision.report(RuntimeError.new("from the handler"), "/signal")
end
Process.kill("USR1", Process.pid)
sleep 0.2
Nevision.report(RuntimeError.new("from main"), "/main")
"""

# Registered before the reporter is loaded, so it runs after the reporter's own at_exit.
LATE_AT_EXIT = """\
at_exit { Nevision.report(RuntimeError.new("from a late at_exit"), "/exit") }
require_relative "nevision"
Nevision.report(RuntimeError.new("during the run"), "/run")
"""


def run_ruby(tmp_path: Path, generator: Generator, variant: str, base_url: str, script: str) -> str:
    ruby = shutil.which("ruby")
    if ruby is None:
        require_toolchain("ruby", "ruby is not on PATH")
    code = generator.render("ruby", variant, "s1", "k1", base_url)
    (tmp_path / "nevision.rb").write_text(code, encoding="utf-8")
    if "require_relative" not in script:
        script = 'require_relative "nevision"\n' + script
    (tmp_path / "app.rb").write_text(script, encoding="utf-8")
    result = subprocess.run(
        [ruby, "app.rb"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def messages(stub: Stub) -> list[str]:
    return sorted(str(e.get("message")) for e in stub.errors())


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_report_from_a_signal_handler_is_delivered(
    tmp_path: Path, generator: Generator, variant: str
) -> None:
    with Stub(generator.spec, {"s1": Site("k1")}) as stub:
        stderr = run_ruby(tmp_path, generator, variant, stub.base_url, SIGNAL)
        stub.wait_for(1, timeout=2)
        assert messages(stub) == ["from main", "from the handler"], stderr


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_report_from_a_late_at_exit_hook_is_delivered(
    tmp_path: Path, generator: Generator, variant: str
) -> None:
    with Stub(generator.spec, {"s1": Site("k1")}) as stub:
        stderr = run_ruby(tmp_path, generator, variant, stub.base_url, LATE_AT_EXIT)
        stub.wait_for(1, timeout=2)
        assert messages(stub) == ["during the run", "from a late at_exit"], stderr


@pytest.fixture
def trickling() -> Iterator[tuple[str, list[float]]]:
    """An endpoint whose first reply sends its headers, then a byte a second for good; later
    requests are answered at once. Yields its base URL and when each request arrived."""
    server = socket.create_server(("127.0.0.1", 0))
    arrivals: list[float] = []
    stop = threading.Event()

    def serve(connection: socket.socket) -> None:
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(body) < length:
                body += connection.recv(65536)
            arrivals.append(time.monotonic())
            if len(arrivals) == 1:
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                while not stop.wait(1.0):
                    connection.sendall(b" ")
            else:
                reply = b'{"accepted": 1}'
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: "
                    + str(len(reply)).encode() + b"\r\n\r\n" + reply
                )  # fmt: skip

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", arrivals
    finally:
        stop.set()
        server.close()


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_trickled_reply_holds_the_sender_no_longer_than_the_timeout(
    tmp_path: Path,
    generator: Generator,
    variant: str,
    trickling: tuple[str, list[float]],
) -> None:
    base_url, arrivals = trickling
    script = (
        'Nevision.report(RuntimeError.new("first"), "/a")\n'
        "sleep 0.3\n"
        'Nevision.report(RuntimeError.new("second"), "/b")\n'
        "Nevision.flush(30)\n"
    )
    run_ruby(tmp_path, generator, variant, base_url, script)
    timeout_s = generator.spec.api.timeout_ms / 1000
    assert len(arrivals) >= 2, "the sender never got past the trickled reply"
    assert arrivals[1] - arrivals[0] < timeout_s + 1.5
