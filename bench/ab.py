"""A/B of two versions of the bot on bench/throughput.py's load, interleaved, with the bare bot.

Single runs on a small shared machine move by a third, so a change is only measurable against
the version before it in the same session, in alternating order, several times. Each round
runs the bare aiogram bot, then the two versions (A first in even rounds, B first in odd
ones), each as its own `urapolku run` process from a git worktree of its revision, on a new
SQLite file.

    python bench/ab.py REV_A [REV_B] [--rounds 3] [--people 50] [--turns 15]

REV_B defaults to the working tree (uncommitted changes included). Prints a line per run and
the medians: CPU ms per update of the bot process, updates/s, the ratio to the bare bot of the
same round, and how often ``getUpdates`` handed out each update the people sent.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import throughput  # noqa: E402


async def run_version(root: Path, name: str, people: int, turns: int) -> throughput.Result:
    throughput.ROOT = root  # the bot runs from this worktree
    with tempfile.TemporaryDirectory() as tmp:
        env = throughput.bench_env(ENVIRONMENT="production") | {
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.sqlite3"
        }
        return await throughput.run(name, [sys.executable, "-m", "bot", "run"], env, people, turns)


async def run_bare(people: int, turns: int) -> throughput.Result:
    throughput.ROOT = ROOT
    command = [sys.executable, "bench/bare_bot.py", "--api", "{api}", "--token", throughput.TOKEN]
    return await throughput.run("bare", command, throughput.bench_env(), people, turns)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("rev_a")
    parser.add_argument("rev_b", nargs="?", help="default: the working tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--turns", type=int, default=15)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]

    with tempfile.TemporaryDirectory() as tmp:
        roots = {"A": Path(tmp) / "a", "B": ROOT}
        revisions = [("A", args.rev_a)]
        if args.rev_b:
            roots["B"] = Path(tmp) / "b"
            revisions.append(("B", args.rev_b))
        for label, revision in revisions:
            subprocess.run(
                ["git", "worktree", "add", "--detach", "-q", str(roots[label]), revision],
                cwd=ROOT,
                check=True,
            )
        try:
            results = asyncio.run(rounds(roots, args.rounds, args.people, args.turns))
        finally:
            for label, _ in revisions:
                subprocess.run(
                    ["git", "worktree", "remove", "--force", str(roots[label])],
                    cwd=ROOT,
                    check=False,
                )
    print(f"\nA = {args.rev_a}, B = {args.rev_b or 'the working tree'}; medians:")
    for label, runs in results.items():
        cpu = [r.cpu_s / r.updates * 1000 for r, _, _ in runs]
        print(
            f"{label:5} CPU {statistics.median(cpu):6.2f} ms/update ({min(cpu):.2f}-{max(cpu):.2f})"
            f"  {statistics.median(r.rate for r, _, _ in runs):6.1f} updates/s"
            f"  ratio {statistics.median(ratio for _, ratio, _ in runs):.2f}"
            f"  deliveries/update {statistics.median(d for _, _, d in runs):.2f}"
        )


async def rounds(
    roots: dict[str, Path], count: int, people: int, turns: int
) -> dict[str, list[tuple[throughput.Result, float, float]]]:
    results: dict[str, list[tuple[throughput.Result, float, float]]] = {
        "bare": [],
        "A": [],
        "B": [],
    }
    for number in range(count):
        order = ["A", "B"] if number % 2 == 0 else ["B", "A"]
        bare = await run_bare(people, turns)
        for label in ["bare", *order]:
            result = (
                bare if label == "bare" else await run_version(roots[label], label, people, turns)
            )
            ratio = result.rate / bare.rate
            delivered = result.handed_out / result.updates
            results[label].append((result, ratio, delivered))
            print(
                f"round {number + 1} {label:4} {result.rate:7.1f} updates/s"
                f"  CPU {result.cpu_s / result.updates * 1000:6.2f} ms/update  ratio {ratio:4.2f}"
                f"  p50 {result.percentile(50):6.1f} ms  p99 {result.percentile(99):7.1f} ms"
                f"  peak {result.peak_rss_mb:5.1f} MB  deliveries/update {delivered:5.2f}"
            )
    return results


if __name__ == "__main__":
    main()
