"""A crowd at once: N people scan a poster's QR code together, against Telegram's limits.

The real bot (``python -m bot run``, long polling, SQLite, its own outgoing limiter as in
production) runs as a process against the Bot API stand-in (bot/telegram/standin/) with
Telegram's limits enforced: 30 messages a second overall, per private chat a burst of
:data:`PER_CHAT_BURST` then one a second, 20 a minute per group, 429 with ``retry_after``
beyond them. Every person, all at once: /start; when the reply comes, presses its first button;
when the bot has answered that, presses the first button of the question that follows.

    python bench/burst.py [--people 300] [--baseline REV]

It prints:

* the share of the 30/s limit used while work was queued (seconds in which at least 30 people
  were waiting for a turn to finish, so that the bot could have filled the whole second);
* button presses answered more than 15 s after the press (Telegram shows a spinner until the
  answer and drops an answer that comes later), and never answered;
* the wait from /start to the first reply: p50, p95, max (the physical minimum for N first
  messages is N / 30 s: 10 s for 300 people);
* new messages per turn, turns that got no reply (lost), bot messages that repeat an earlier
  one in the same chat (duplicated), and 429s.

``--baseline REV`` runs the bot of git revision REV first (exported with ``git archive``, run
with this virtualenv) on the same load, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.telegram.standin import BotAPIStub, FakeUser  # noqa: E402

TOKEN = "123456:BURST-token-abcdefghijklmnopqrstu"
#: Telegram's overall limit, which the stand-in enforces
LIMIT_PER_SECOND = 30
#: messages a private chat takes at once before one a second (Telegram tolerates short bursts
#: and does not say how long; this is what the bot's limiter assumes)
PER_CHAT_BURST = 5
#: an answer later than this after the press: Telegram has dropped it, the phone spun
PRESS_DEADLINE_S = 15.0
SENDS = frozenset({"sendmessage", "senddocument", "sendphoto", "copymessage", "forwardmessage"})
EDITS = frozenset({"editmessagetext", "editmessagereplymarkup", "editmessagecaption"})
STARTUP_TIMEOUT_S = 180.0
TURN_TIMEOUT_S = 600.0
#: how often a simulated person looks at the chat
POLL_S = 0.25


@dataclass
class Person:
    user: FakeUser
    #: when each of the person's actions was made (monotonic seconds)
    actions: list[float] = field(default_factory=list)
    #: the query ids of the person's presses, with when each was made
    presses: list[tuple[str, float]] = field(default_factory=list)


def first_button(user: FakeUser) -> str | None:
    """The first button of the newest keyboard that is not "back"."""
    for message in reversed(user.messages):
        buttons = [b for b in message.buttons if not b.startswith(("◀", "↩"))]
        if buttons:
            return buttons[0]
    return None


async def settle(user: FakeUser) -> None:
    """Until the bot's reply to the last action has a keyboard and the chat has been quiet for
    a moment. (With a crowd queued the bot confirms an update once its effects are committed,
    before its replies are out, so "confirmed and quiet" alone is not enough.) Polled:
    hundreds of people woken by every call the stand-in takes would load the stand-in's
    process, and a stalled stand-in sees sends bunched that left the bot evenly spaced."""
    deadline = time.monotonic() + TURN_TIMEOUT_S
    while not (user.is_idle(quiet=0.3) and any(m.buttons for m in user.new_messages())):
        if time.monotonic() > deadline:
            raise TimeoutError(f"chat {user.chat_id}: no reply within {TURN_TIMEOUT_S} s")
        await asyncio.sleep(POLL_S)


async def act(person: Person) -> None:
    """/start, the first button when the reply is there, then the next question's first."""
    user = person.user
    person.actions.append(time.monotonic())
    await user.send("/start")
    for _ in range(2):
        await settle(user)
        label = first_button(user)
        if label is None:
            return
        now = time.monotonic()
        person.actions.append(now)
        person.presses.append((await user.click(label), now))
    await settle(user)


@dataclass
class Figures:
    name: str
    people: int
    seconds: float
    share_used: float
    queued_seconds: int
    presses: int
    presses_late: int
    presses_unanswered: int
    press_p95: float
    first_reply: list[float]
    sends_per_turn: float
    lost: int
    duplicated: int
    rejected: int
    log_lines: int

    def percentile(self, p: float) -> float:
        ordered = sorted(self.first_reply)
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


def measure(name: str, stub: BotAPIStub, people: list[Person], seconds: float) -> Figures:
    """The figures of one run, from what the stand-in recorded."""
    bot_calls: dict[int, list[tuple[float, str]]] = defaultdict(list)
    for call in stub.calls:
        method = call.method.lower()
        if call.ok and (method in SENDS or method in EDITS):
            chat_id = call.params.get("chat_id")
            if isinstance(chat_id, int):
                bot_calls[chat_id].append((call.time, method))
    sends = sorted(t for calls in bot_calls.values() for t, m in calls if m in SENDS)

    # When each turn ended: the last send or edit in its chat before the person's next action.
    waiting: list[tuple[float, float]] = []
    first_reply: list[float] = []
    lost = 0
    for person in people:
        calls = sorted(bot_calls.get(person.user.chat_id, []))
        bounds = [*person.actions, math.inf]
        for index, started in enumerate(person.actions):
            replies = [t for t, _ in calls if started <= t < bounds[index + 1]]
            if not replies:
                lost += 1
                continue
            waiting.append((started, max(replies)))
            if index == 0:
                first_reply.append(min(replies) - started)

    # Seconds in which at least a second's worth of people waited: the bot could fill them.
    start = min(p.actions[0] for p in people)
    end = max(end for _, end in waiting) if waiting else start
    queued = used = 0
    for second in range(math.ceil(end - start)):
        at = start + second
        if sum(1 for began, ended in waiting if began <= at < ended) >= LIMIT_PER_SECOND:
            queued += 1
            used += sum(1 for t in sends if at <= t < at + 1)
    share = used / (queued * LIMIT_PER_SECOND) if queued else math.nan

    answered = stub.callback_answer_times
    presses = [(query, at) for person in people for query, at in person.presses]
    delays = [answered[q] - at for q, at in presses if q in answered]
    unanswered = sum(1 for q, _ in presses if q not in answered)
    late = sum(1 for d in delays if d > PRESS_DEADLINE_S) + unanswered

    duplicated = 0
    for person in people:
        texts = Counter(m.text for m in person.user.messages if m.text)
        duplicated += sum(n - 1 for n in texts.values())
    turns = sum(len(p.actions) for p in people)
    return Figures(
        name=name,
        people=len(people),
        seconds=seconds,
        share_used=share,
        queued_seconds=queued,
        presses=len(presses),
        presses_late=late,
        presses_unanswered=unanswered,
        press_p95=sorted(delays)[max(0, math.ceil(0.95 * len(delays)) - 1)] if delays else 0.0,
        first_reply=first_reply,
        sends_per_turn=len(sends) / turns if turns else math.nan,
        lost=lost,
        duplicated=duplicated,
        rejected=stub.rejected,
        log_lines=0,
    )


async def run(name: str, cwd: Path, people_count: int) -> Figures:
    """Start the bot of ``cwd`` as a process against a fresh stand-in, let the crowd in."""
    async with BotAPIStub(token=TOKEN, enforce_limits=True, per_chat_burst=PER_CHAT_BURST) as stub:
        with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as log:
            env = bot_env(stub.base_url, f"sqlite+aiosqlite:///{tmp}/burst.sqlite3")
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                cwd=cwd,
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=log,
            )
            try:
                for _ in range(int(STARTUP_TIMEOUT_S / 0.05)):
                    if stub.calls_of("getUpdates"):
                        break
                    if process.returncode is not None:
                        log.seek(0)
                        raise SystemExit(f"{name} did not start: {log.read().decode()[-2000:]}")
                    await asyncio.sleep(0.05)
                people = [
                    Person(stub.user(100_000 + i, first_name="Testi", language_code="fi"))
                    for i in range(people_count)
                ]
                started = time.monotonic()
                await asyncio.gather(*(act(p) for p in people))
                seconds = time.monotonic() - started
            finally:
                if process.returncode is None:
                    process.terminate()
                    await process.wait()
            log.seek(0)
            lines = log.read().decode(errors="replace").strip().splitlines()
    figures = measure(name, stub, people, seconds)
    figures.log_lines = len(lines)
    if lines:
        print(f"{name}: {len(lines)} log lines, last: {lines[-1][:300]}")
    return figures


def bot_env(api: str, database_url: str) -> dict[str, str]:
    """The bot's environment: limits as in production (the default outgoing rate, flood
    control), a fresh database and data key, quiet logs."""
    keep = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "OUTGOING_PER_SECOND"}}
    return keep | {
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_URL": api,
        "DATABASE_URL": database_url,
        "ENVIRONMENT": "production",
        "LOG_LEVEL": "WARNING",
        "DATA_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode("ascii"),
    }


def export(revision: str, into: Path) -> Path:
    """The tree of git ``revision``, written under ``into``."""
    archive = subprocess.run(
        ["git", "archive", revision], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def report(results: list[Figures]) -> None:
    minimum = results[0].people / LIMIT_PER_SECOND
    rows = [
        ("share of the 30/s limit used while work was queued", "{:.2f}", "share_used"),
        ("  seconds with work queued", "{}", "queued_seconds"),
        ("presses answered after 15 s (or never)", "{}", "presses_late"),
        ("  of them never answered", "{}", "presses_unanswered"),
        ("  press to answer, p95 s", "{:.2f}", "press_p95"),
        ("first reply p50 s", "{:.1f}", None),
        ("first reply p95 s", "{:.1f}", None),
        ("first reply max s", "{:.1f}", None),
        ("new messages per turn", "{:.2f}", "sends_per_turn"),
        ("turns without a reply (lost)", "{}", "lost"),
        ("messages repeated in a chat (duplicated)", "{}", "duplicated"),
        ("429 answers", "{}", "rejected"),
        ("run took s", "{:.1f}", "seconds"),
    ]
    print(
        f"\n{results[0].people} people at once; physical minimum for the first replies: "
        f"{minimum:.0f} s\n"
    )
    print(f"{'':<52}" + "".join(f"{r.name:>18}" for r in results))
    for label, fmt, attribute in rows:
        cells = []
        for r in results:
            if attribute is None:
                p = {"p50": 50, "p95": 95, "max": 100}[label.split()[2]]
                value: object = r.percentile(p)
            else:
                value = getattr(r, attribute)
            cells.append(f"{fmt.format(value):>18}")
        print(f"{label:<52}" + "".join(cells))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument(
        "--baseline", metavar="REV", help="also run the bot of this git revision, first"
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            tree = export(args.baseline, Path(tmp))
            results.append(await run(args.baseline[:12], tree, args.people))
        results.append(await run("this tree", ROOT, args.people))
    report(results)
    load = os.getloadavg()[0]
    print(f"\nload average at the end: {load:.1f} on {os.cpu_count()} cores (others' work too)")


if __name__ == "__main__":
    asyncio.run(main())
