"""Runs the ONNX backend node tests through ssmc: compile each case, then `ssmc check` its data sets.

Cases come from the pinned onnx package's own generators (tools/onnx_node_cases.py writes them to
build/onnx-node-tests/, regenerating only when missing or made by another onnx version). A case runs
when `ssmc ops` claims every op it uses (subgraph and local-function bodies included); other
cases count as "not claimed". Claimed cases named in tools/onnx_backend_exclusions.txt
(`NAME  # reason`) are listed and counted as excluded, never run.

ssmc compiles static shapes: inputs whose values decide an output's shape (Reshape's shape, a Reduce's
axes, ...) are turned into constants holding the test data's value before compiling (tools/shape_inputs.py,
as onnx-mlir's runner does in its static mode).

Tolerances are those onnx's backend runner applies (onnx/backend/test/runner/__init__.py):
each node case's own rtol/atol (1e-3 and 1e-7 for every node case in onnx 1.23.2), with rtol
raised to 2**-6 for bfloat16 outputs. That runner has no other per-case override for node cases
except kwargs a backend passes in, and we pass none.

Prints the tail of the error of each failing case, the excluded cases, then the counts, and last
`N passed, M failed`; exits 1 if any case failed. Writes build/onnx-node-tests/report.md.
    tools/py tools/onnx_backend_tests.py [--ssmc PATH] [--filter REGEX] [--jobs 2] [--list]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from onnx_node_cases import DEFAULT_OUT, REPO_ROOT, ensure_cases
from onnx_backend_report import write_report
import shape_inputs

EXCLUSIONS = REPO_ROOT / "tools" / "onnx_backend_exclusions.txt"
TAIL_LINES = 15

# Steps still running, so Ctrl-C can end them: each runs in its own session and would outlive us.
_live: set[subprocess.Popen] = set()
_live_lock = threading.Lock()


def die(message: str) -> None:
    """Set-up errors (no ssmc, bad exclusion file) exit 2, apart from test failures' 1."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


@dataclass
class Result:
    name: str
    passed: bool
    seconds: float
    log: str = ""  # the failing step's command and its output
    workdir: str = ""


@dataclass
class Selection:
    run: list[str] = field(default_factory=list)
    excluded: dict[str, str] = field(default_factory=dict)  # name -> reason
    not_claimed: dict[str, list[str]] = field(default_factory=dict)  # name -> ops not claimed


def read_exclusions(path: Path) -> dict[str, str]:
    """`NAME  # reason` per line; blank lines and lines starting with # are ignored."""
    out: dict[str, str] = {}
    if not path.exists():
        return out
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        name, _, reason = text.partition("#")
        name, reason = name.strip(), reason.strip()
        if not reason:
            die(f"{path}:{number}: exclusion of {name} needs a '# reason'")
        out[name] = reason
    return out


def claimed_ops(ssmc: str) -> set[str]:
    """The `DOMAIN OPTYPE` lines of `ssmc ops`."""
    try:
        proc = subprocess.run([ssmc, "ops"], capture_output=True, text=True, timeout=60)
    except OSError as e:
        die(f"cannot run ssmc at {ssmc}: {e.strerror}; build it or pass --ssmc PATH")
    if proc.returncode != 0:
        die(f"`{ssmc} ops` exited {proc.returncode}:\n{proc.stderr.strip()}")
    ops = set()
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            ops.add(f"{parts[0]} {parts[1]}")
        elif parts:
            die(f"`{ssmc} ops` printed {line!r}; expected 'DOMAIN OPTYPE'")
    return ops


# Element types ssmc compiles (tensor inputs and outputs); a case using any other is excluded with that reason.
SUPPORTED_TYPES = {"FLOAT", "DOUBLE", "INT64", "INT32", "INT8", "UINT8", "BOOL"}


def unsupported_types(case: dict) -> list[str]:
    return sorted(set(case.get("input_types", []) + case["output_types"]) - SUPPORTED_TYPES)


def select(cases: dict, claimed: set[str], exclusions: dict[str, str], pattern: str | None) -> Selection:
    sel = Selection()
    try:
        regex = re.compile(pattern) if pattern else None
    except re.error as e:
        die(f"--filter {pattern!r}: {e}")
    for name in sorted(cases):
        if regex and not regex.search(name):
            continue
        # Exclusions only matter among claimed cases: an unclaimed op's cases never run anyway.
        missing = [op for op in cases[name]["ops"] if op not in claimed]
        unsupported = unsupported_types(cases[name])
        if missing:
            sel.not_claimed[name] = missing
        elif name in exclusions:
            sel.excluded[name] = exclusions[name]
        elif unsupported:
            sel.excluded[name] = f"uses element type {', '.join(unsupported)}, which ssmc does not compile"
        else:
            sel.run.append(name)
    return sel


def tolerances(case: dict) -> tuple[float, float]:
    rtol, atol = case["rtol"], case["atol"]
    if "BFLOAT16" in case["output_types"]:
        rtol = max(rtol, 2**-6)  # onnx's runner: two bfloat16 ULPs
    return rtol, atol


def run_step(cmd: list[str], deadline: float) -> tuple[bool, str]:
    """Runs one command until `deadline`; returns (ok, transcript). A timeout kills its process group."""
    transcript = "$ " + " ".join(cmd) + "\n"
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False, transcript + "timed out before this step started\n"
    # Own session so a timeout also ends whatever ssmc started (e.g. the linker).
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    with _live_lock:
        _live.add(proc)
    try:
        out, _ = proc.communicate(timeout=remaining)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return False, transcript + out + "TIMEOUT: killed after the case's time limit\n"
    finally:
        with _live_lock:
            _live.discard(proc)
    if proc.returncode != 0:
        how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        return False, transcript + out + f"({how})\n"
    return True, transcript + out


def run_case(name: str, case: dict, case_dir: Path, ssmc: str, timeout: float, keep: bool) -> Result:
    start = time.monotonic()
    deadline = start + timeout
    work = tempfile.mkdtemp(prefix=f"ssmc-{name}-")
    try:
        lib = os.path.join(work, "model.so")
        model = case_dir / "model.onnx"
        data_sets = [case_dir / f"test_data_set_{i}" for i in range(case["data_sets"])]
        try:
            static = shape_inputs.promote(case_dir, case["data_sets"], Path(work) / "static")
        except ValueError as e:
            return Result(name, False, time.monotonic() - start, f"{e}\n", work if keep else "")
        if static:
            model, data_sets = static
        ok, log = run_step([ssmc, "compile", str(model), "-o", lib], deadline)
        if ok:
            rtol, atol = tolerances(case)
            for ds in data_sets:
                ok, log = run_step([ssmc, "check", lib, str(ds), "--rtol", repr(rtol), "--atol", repr(atol)], deadline)
                if not ok:
                    break
        return Result(name, ok, time.monotonic() - start, "" if ok else log, work if keep else "")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def tail(text: str, lines: int = TAIL_LINES) -> str:
    parts = text.rstrip("\n").splitlines()
    if len(parts) <= lines:
        return "\n".join(parts)
    return "\n".join([parts[0], f"  ... ({len(parts) - lines} lines omitted)"] + parts[-(lines - 1):])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ssmc", default=str(REPO_ROOT / ".build" / "debug" / "ssmc"),
                        help="the ssmc binary (default: .build/debug/ssmc in the repo root)")
    parser.add_argument("--filter", metavar="REGEX", help="only cases whose name matches (re.search)")
    parser.add_argument("--jobs", "-j", type=int, default=2, help="cases run in parallel (default: 2)")
    parser.add_argument("--list", action="store_true", help="print the selected cases and exit")
    parser.add_argument("--keep", action="store_true", help="keep each case's temporary folder")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per case, compile and checks (default: 120)")
    parser.add_argument("--cases", type=Path, default=DEFAULT_OUT, help="case folder (default: build/onnx-node-tests)")
    parser.add_argument("--exclusions", type=Path, default=EXCLUSIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    manifest = ensure_cases(args.cases)
    cases = manifest["cases"]
    exclusions = read_exclusions(args.exclusions)
    for name in sorted(set(exclusions) - set(cases)):
        print(f"warning: {args.exclusions.name}: no case named {name}", file=sys.stderr)
    claimed = claimed_ops(args.ssmc)
    sel = select(cases, claimed, exclusions, args.filter)

    if args.list:
        for name in sel.run:
            print(name)
        return 0

    # Ctrl-C and a CI job's SIGTERM both end the run and its steps (the default for SIGINT may be "ignore"
    # when started in the background, which would leave the steps running).
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    results: list[Result] = []
    pool = ThreadPoolExecutor(max_workers=max(1, args.jobs))
    futures = [pool.submit(run_case, n, cases[n], args.cases / n, args.ssmc, args.timeout, args.keep)
               for n in sel.run]
    try:
        for done, fut in enumerate(as_completed(futures), 1):
            results.append(fut.result())
            if sys.stderr.isatty():
                print(f"\r[{done}/{len(futures)}]", end="", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        with _live_lock:
            for proc in _live:
                os.killpg(proc.pid, signal.SIGKILL)
        print("\ninterrupted", file=sys.stderr)
        return 130
    pool.shutdown()
    if sys.stderr.isatty() and futures:
        print(file=sys.stderr)

    results.sort(key=lambda r: r.name)
    failed = [r for r in results if not r.passed]
    for r in failed:
        print(f"FAIL {r.name} ({r.seconds:.1f} s)")
        print(tail(r.log))
        print()
    if args.keep:
        for r in results:
            print(f"kept {r.name}: {r.workdir}")
    for name, reason in sel.excluded.items():
        print(f"excluded {name}  # {reason}")
    report = write_report(args.cases / "report.md", manifest, claimed, sel, results, args.filter)
    try:
        report = report.relative_to(Path.cwd())
    except ValueError:
        pass
    print(f"report: {report}")
    print(f"{len(sel.not_claimed)} not claimed (they use an op `ssmc ops` does not list)")
    print(f"{len(sel.excluded)} excluded")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
