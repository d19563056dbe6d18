"""What one report call costs the caller, per language and variant; prints a table.

While the stub takes 200 ms per request, each runnable language's reporter and
snippet are called 10,000 times in a row (the bench driver beside each template
times every call with a monotonic clock), and the docs page's blocking Python
snippet, which waits for the round trip, 50 times. A second run of 1,000
errors counts the requests they needed.

    python benchmarks/caller_cost.py [--calls 10000] [--blocking-calls 50] [--lang python ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.languages import LANGUAGES  # noqa: E402
from generator.render import Generator  # noqa: E402
from generator.stub import Faults, Site, Stub  # noqa: E402
from generator.toolchains import Unavailable  # noqa: E402
from generator.verify import burst  # noqa: E402

DELAY_S = 0.2


def blocking_baseline(generator: Generator, calls: int) -> tuple[float, float]:
    """p50 and p99 (µs) of the docs page's blocking snippet against the slow stub."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import docs_blocking_snippet as docs

    with Stub(generator.spec, {docs.SITE_ID: Site(docs.API_KEY)}, faults=Faults(DELAY_S)) as stub:
        docs.ENDPOINT = stub.base_url + generator.spec.api.path
        try:
            raise ValueError("burst")
        except ValueError as exc:
            error = exc
        costs = []
        for _ in range(calls):
            started = time.perf_counter_ns()
            docs.report_error(error, "/bench")
            costs.append((time.perf_counter_ns() - started) / 1000)
    costs.sort()
    return statistics.median(costs), costs[min(len(costs) - 1, len(costs) * 99 // 100)]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = cpu
    system = f"{platform.system()} {platform.release()}"
    return f"{model}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--blocking-calls", type=int, default=50)
    parser.add_argument("--lang", action="append", help="only these languages")
    args = parser.parse_args()
    generator = Generator.from_path()
    print(f"machine: {machine()}")
    print(f"stub: {DELAY_S * 1000:.0f} ms per request; {args.calls} calls per row\n")
    header = (
        f"{'language':8} {'variant':9} {'p50 µs':>9} {'p99 µs':>9} {'max µs':>10} "
        f"{'dropped':>8}   per 1,000 errors: {'delivered':>9} {'requests':>8}"
    )
    print(header)
    print("-" * len(header))
    python_reporter_p99 = None
    for language in LANGUAGES.values():
        if args.lang and language.name not in args.lang:
            continue
        for variant in ("reporter", "snippet"):
            if variant not in language.variants:
                continue
            try:
                cost = burst(generator, language, variant, args.calls, DELAY_S)
                per_1000 = burst(generator, language, variant, 1000, DELAY_S)
            except Unavailable as exc:
                print(f"{language.name:8} {variant:9} skipped: {exc}")
                break
            if (language.name, variant) == ("python", "reporter"):
                python_reporter_p99 = cost.p99_us
            print(
                f"{language.name:8} {variant:9} {cost.p50_us:9.2f} {cost.p99_us:9.2f} "
                f"{cost.max_us:10.1f} {cost.dropped:8}   {'':18}"
                f"{per_1000.delivered:9} {per_1000.requests:8}"
            )
    if not args.lang or "python" in args.lang:
        p50, p99 = blocking_baseline(generator, args.blocking_calls)
        print(
            f"{'python':8} {'docs':9} {p50:9.0f} {p99:9.0f} {'':>10} {'':>8}   "
            f"(blocking: {args.blocking_calls} calls, one request per error)"
        )
        if python_reporter_p99:
            ratio = p50 / python_reporter_p99
            print(
                f"\nPython reporter p99 {python_reporter_p99:.2f} µs: {ratio:,.0f} times less "
                "caller time than the blocking snippet's p50"
            )


if __name__ == "__main__":
    main()
