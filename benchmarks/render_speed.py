"""Personalised rendering and a cold command line, beside httpsnippet 3.0.10; prints a table.

In process: ``render()`` as a dashboard calls it, new values every call, for each
language and variant (median and p99); httpsnippet's ``new HTTPSnippet(har).convert()``
for each of its targets. Cold: a new process for ``generate --lang kotlin`` and
``generate --all --out DIR`` (served from the output cache, and with it off), the
httpsnippet CLI for one target, and httpsnippet converting every target in one node
process; median wall time and peak RSS of each. httpsnippet is installed with npm into
a temporary folder when node and npm are on PATH.

    python benchmarks/render_speed.py [--calls 3000] [--runs 15] [--no-httpsnippet]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import render  # noqa: E402
from generator.languages import LANGUAGES  # noqa: E402

HTTPSNIPPET = "httpsnippet@3.0.10"
HAR = {
    "method": "POST",
    "url": "https://api.nevision.app/public/errors/ingest",
    "headers": [
        {"name": "content-type", "value": "application/json"},
        {"name": "x-nevision-api-key", "value": "YOUR_API_KEY"},
    ],
    "postData": {"mimeType": "application/json", "text": '{"siteId":"YOUR_SITE_ID","errors":[]}'},
}
#: Times each httpsnippet target in one process, then prints {target: median µs}.
CONVERT_EACH = """
const { HTTPSnippet, availableTargets } = require('httpsnippet');
const har = JSON.parse(process.argv[1]);
const out = {};
for (const target of availableTargets()) {
  for (const client of target.clients) {
    const costs = [];
    try {
      for (let i = 0; i < 300; i++) {
        const copy = JSON.parse(JSON.stringify(har));
        copy.headers[1].value = 'key-' + i;
        const started = process.hrtime.bigint();
        new HTTPSnippet(copy).convert(target.key, client.key);
        costs.push(Number(process.hrtime.bigint() - started) / 1000);
      }
    } catch (e) { continue; }
    costs.sort((a, b) => a - b);
    out[target.key + '/' + client.key] = costs[costs.length >> 1];
  }
}
console.log(JSON.stringify(out));
"""
#: Converts every working target once, in one process: the cold "all targets" run.
CONVERT_ALL = """
const { HTTPSnippet, availableTargets } = require('httpsnippet');
const snippet = new HTTPSnippet(JSON.parse(process.argv[1]));
let count = 0;
for (const target of availableTargets()) {
  for (const client of target.clients) {
    try { if (snippet.convert(target.key, client.key)) count++; } catch (e) {}
  }
}
console.log(count);
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def in_process(calls: int) -> list[tuple[str, str, float, float]]:
    rows = []
    for lang in LANGUAGES.values():
        for variant in lang.variants:
            render(lang.name, variant, "warm-up", "warm-up")
            costs = []
            for index in range(calls):
                site, key = f"site-{index:06d}", f"k_live_{index:032d}"
                started = time.perf_counter_ns()
                render(lang.name, variant, site, key)
                costs.append((time.perf_counter_ns() - started) / 1000)
            rows.append((lang.name, variant, statistics.median(costs), percentile(costs, 0.99)))
    return rows


def timed(
    command: Sequence[str], runs: int, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """Median wall seconds and the largest peak RSS (MiB) of ``runs`` fresh processes.

    The peak comes from GNU time where it is installed: a child's own rusage would
    also count the memory of this process, which it starts as a copy of.
    """
    gnu_time = "/usr/bin/time" if Path("/usr/bin/time").is_file() else None
    walls, peaks = [], []
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        for _ in range(runs):
            wrapped = [gnu_time, "-o", report.name, "-f", "%M", *command] if gnu_time else command
            started = time.perf_counter()
            result = subprocess.run(wrapped, env=env, capture_output=True)
            walls.append(time.perf_counter() - started)
            if result.returncode != 0:
                raise SystemExit(f"{' '.join(command)} failed: {result.stderr[-300:]!r}")
            if gnu_time:
                report.seek(0)
                peaks.append(int(report.read().strip().splitlines()[-1]) / 1024)
    return statistics.median(walls), max(peaks, default=float("nan"))


def our_cli() -> list[str]:
    script = Path(sys.executable).parent / "nevision-snippets"
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from generator.cli import main; main()"]


def install_httpsnippet(folder: Path) -> Path | None:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        return None
    result = subprocess.run(
        [
            npm,
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--prefix",
            str(folder),
            HTTPSNIPPET,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return folder if result.returncode == 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-httpsnippet", action="store_true")
    options = parser.parse_args()

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )
    rows = in_process(options.calls)
    print(f"\nrender() in process, {options.calls} calls each, new site id and key every call")
    print(f"{'language':9}{'variant':10}{'median µs':>11}{'p99 µs':>10}")
    for language, variant, median, p99 in rows:
        print(f"{language:9}{variant:10}{median:11.1f}{p99:10.1f}")
    worst_median = max(row[2] for row in rows)
    worst_p99 = max(row[3] for row in rows)
    print(f"target median <= 20 µs: worst {worst_median:.1f}; p99 <= 200 µs: worst {worst_p99:.1f}")

    cli = our_cli()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        cached = {**os.environ, "NEVISION_SNIPPETS_CACHE": str(work / "cache")}
        uncached = {**os.environ, "NEVISION_SNIPPETS_CACHE": "off"}
        kotlin = [*cli, "generate", "--lang", "kotlin"]
        every = [*cli, "generate", "--all", "--out", str(work / "out")]
        subprocess.run(kotlin, env=cached, capture_output=True, check=True)  # fills the cache
        subprocess.run(every, env=cached, capture_output=True, check=True)
        cold = {
            "generate --lang kotlin": timed(kotlin, options.runs, cached),
            "generate --lang kotlin, cache off": timed(kotlin, options.runs, uncached),
            "generate --all --out DIR": timed(every, options.runs, cached),
            "generate --all --out DIR, cache off": timed(
                every, max(3, options.runs // 3), uncached
            ),
        }
        theirs: dict[str, tuple[float, float]] = {}
        per_target: dict[str, float] = {}
        folder = None if options.no_httpsnippet else install_httpsnippet(work / "hs")
        if folder is not None:
            har = json.dumps(HAR)
            (work / "har.json").write_text(har, encoding="utf-8")
            binary = str(folder / "node_modules" / ".bin" / "httpsnippet")
            node = shutil.which("node") or "node"
            env = {**os.environ, "NODE_PATH": str(folder / "node_modules")}
            theirs["httpsnippet CLI, one target"] = timed(
                [binary, str(work / "har.json"), "--target", "kotlin", "--client", "okhttp"],
                options.runs,
            )
            theirs["httpsnippet, every target in one process"] = timed(
                [node, "-e", CONVERT_ALL, har], options.runs, env
            )
            measured = subprocess.run(
                [node, "-e", CONVERT_EACH, har], env=env, capture_output=True, text=True, check=True
            )
            per_target = json.loads(measured.stdout)

    if per_target:
        medians = sorted(per_target.values())
        print(
            f"\nhttpsnippet convert() in process, {len(medians)} targets: median per target "
            f"{medians[0]:.1f} to {medians[-1]:.1f} µs"
        )
    print(f"\ncold processes, median of {options.runs} runs")
    print(f"{'command':45}{'wall ms':>9}{'peak RSS MiB':>14}")
    for name, (wall, rss) in {**cold, **theirs}.items():
        print(f"{name:45}{wall * 1000:9.0f}{rss:14.1f}")
    if theirs:
        one = cold["generate --lang kotlin"][0] / theirs["httpsnippet CLI, one target"][0]
        every_ratio = (
            cold["generate --all --out DIR"][0]
            / theirs["httpsnippet, every target in one process"][0]
        )
        print(f"\ngenerate --lang kotlin / httpsnippet CLI: {one:.2f}x (target <= 0.8x)")
        print(f"generate --all / httpsnippet every target: {every_ratio:.2f}x (target <= 1.0x)")
    else:
        print("\nhttpsnippet: skipped (no node and npm, or --no-httpsnippet)")


if __name__ == "__main__":
    main()
