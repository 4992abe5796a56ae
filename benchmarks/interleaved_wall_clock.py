"""The wall-clock ratio of a preference run to its true-reward run, measured so the machine's drift cancels.

This machine's pace moves by 10-40% between runs of the same work (docs/notes/wall-clock.md), more than the 15% the
ratio is allowed, so runs timed one after another measure the machine as much as the method. Here both runs of a
pair are started together and take turns: one runs for a slice (--slice seconds) while every process of the other
(its reward-model worker included) is stopped with SIGSTOP, then they swap, until both are done. Each run still has
the machine to itself whenever it runs, and both see the same machine over the same stretch of time. A run's wall
clock is the sum of its slices.

    python benchmarks/interleaved_wall_clock.py --env HalfCheetah-v5 --seeds 0 1 --work benchmarks/work/wall-clock

Each pair's folders are WORK/true-sS and WORK/pref-sS (plain `prefrl train` run folders); the table goes to
WORK/interleaved.md and WORK/interleaved.json. A folder that already finished is not rerun: its recorded times are
read back from WORK/interleaved.json.

The runs' own timers (metrics.csv: wall_time and its parts) count the time they sat stopped, so only this script's
figures are the wall clock. A run plots its learning curve at most every 120 s of its own clock, so stopped time
makes both runs of a pair plot about twice as often as alone (a plot costs ~0.3 s).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from prefrl.bench.report import final_return
from prefrl.control.run_folder import read_metrics


def descendants(pid: int) -> list[int]:
    """pid and every process below it, parents first (read from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # it exited meanwhile
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the command name may hold spaces and parentheses
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def signal_tree(pid: int, sig: int) -> None:
    """Send sig to pid and all its descendants. SIGSTOP goes parent first and repeats until no new process appears,
    so a child spawned while its parent was being stopped is caught too."""
    seen: set[int] = set()
    while True:
        new = [p for p in descendants(pid) if p not in seen]
        if not new:
            return
        for p in new:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        seen.update(new)
        if sig != signal.SIGSTOP:
            return


@dataclass
class Arm:
    """One run of a pair: its command, and the time it has had the machine so far."""

    name: str
    command: list[str]
    folder: Path
    seconds: float = 0.0
    slices: int = 0
    exit_code: int | None = None
    cpu_seconds: float = 0.0
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, log: Path) -> None:
        with log.open("a") as out:
            self.proc = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        signal_tree(self.proc.pid, signal.SIGSTOP)

    def done(self) -> bool:
        """Reap the run if it has exited, recording its exit code and the CPU time of it and its waited-for
        children (the reward-model worker is one)."""
        if self.exit_code is not None:
            return True
        assert self.proc is not None
        pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.exit_code = os.waitstatus_to_exitcode(status)
        self.cpu_seconds = usage.ru_utime + usage.ru_stime
        self.proc.returncode = self.exit_code  # so Popen does not try to reap it again
        return True

    def run_slice(self, seconds: float) -> None:
        """Let the run go on for up to `seconds` (less if it exits), then stop it again."""
        assert self.proc is not None
        start = time.monotonic()
        signal_tree(self.proc.pid, signal.SIGCONT)
        while time.monotonic() - start < seconds and not self.done():
            time.sleep(0.05)
        if not self.done():
            signal_tree(self.proc.pid, signal.SIGSTOP)
        self.seconds += time.monotonic() - start
        self.slices += 1

    def kill(self) -> None:
        if self.proc is not None and not self.done():
            signal_tree(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def interleave(arms: list[Arm], slice_s: float, log: Path) -> None:
    """Run the arms in turns, one slice each, until every one has exited."""
    for arm in arms:
        arm.start(log)
    try:
        while not all(arm.done() for arm in arms):
            for arm in arms:
                if not arm.done():
                    arm.run_slice(slice_s)
    finally:
        for arm in arms:
            arm.kill()


def pair_commands(args: argparse.Namespace, seed: int) -> list[Arm]:
    base = [sys.executable, "-m", "prefrl", "train", "--quiet", "--env", args.env, "--seed", str(seed)]
    base += ["--timesteps", str(args.timesteps)]
    true_dir, pref_dir = args.work / f"true-s{seed}", args.work / f"pref-s{seed}"
    return [
        Arm("true", [*base, "--reward", "true", "--out", str(true_dir)], true_dir),
        Arm("pref", [*base, "--labels", str(args.labels), "--out", str(pref_dir)], pref_dir),
    ]


def table(results: dict[str, dict]) -> str:
    lines = [
        "| seed | true reward (s) | preference (s) | ratio | slices | CPU s, true / preference | return, true / preference |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    total_true = total_pref = 0.0
    for seed, r in sorted(results.items(), key=lambda kv: int(kv[0])):
        t, p = r["true"], r["pref"]
        total_true += t["seconds"]
        total_pref += p["seconds"]
        lines.append(
            f"| {seed} | {t['seconds']:,.1f} | {p['seconds']:,.1f} | {p['seconds'] / t['seconds']:.3f}x | "
            f"{t['slices']} / {p['slices']} | {t['cpu_seconds']:,.1f} / {p['cpu_seconds']:,.1f} | "
            f"{r['return_true']:,.0f} / {r['return_pref']:,.0f} |"
        )
    if len(results) > 1:
        lines.append(f"| all | {total_true:,.1f} | {total_pref:,.1f} | **{total_pref / total_true:.3f}x** | | | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="HalfCheetah-v5")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--timesteps", type=int, default=500_000)
    parser.add_argument("--labels", type=int, default=700)
    parser.add_argument("--slice", type=float, default=20.0, help="seconds each run gets per turn (default: 20)")
    parser.add_argument("--work", type=Path, required=True, help="folder for the run folders and the table")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    record = args.work / "interleaved.json"
    results: dict[str, dict] = json.loads(record.read_text()) if record.exists() else {}
    for seed in args.seeds:
        if str(seed) in results:
            print(f"seed {seed}: measured before, kept")
            continue
        arms = pair_commands(args, seed)
        for arm in arms:
            if arm.folder.exists():
                raise SystemExit(f"{arm.folder} exists without a record in {record}: delete it to measure afresh")
        interleave(arms, args.slice, args.work / f"s{seed}.log")
        failed = [a for a in arms if a.exit_code != 0]
        if failed:
            raise SystemExit(f"seed {seed}: {', '.join(a.name for a in failed)} failed; see {args.work}/s{seed}.log")
        results[str(seed)] = {
            **{a.name: {"seconds": a.seconds, "slices": a.slices, "cpu_seconds": a.cpu_seconds} for a in arms},
            "return_true": final_return(read_metrics(arms[0].folder), math.inf),
            "return_pref": final_return(read_metrics(arms[1].folder), math.inf),
            "env": args.env,
            "timesteps": args.timesteps,
            "labels": args.labels,
            "slice": args.slice,
        }
        record.write_text(json.dumps(results, indent=1))
        print(f"seed {seed}: true {arms[0].seconds:.1f} s, preference {arms[1].seconds:.1f} s", flush=True)
    text = table(results)
    (args.work / "interleaved.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
