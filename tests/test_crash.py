"""The crash suite (issue 10): every public entry point on adversarial input, in subprocesses.

Nothing a user passes may kill the process: each case in tests/crash_cases.py runs in a child process
(one per group, all its cases in sequence; a case that dies is found by the last "START" line without a
"RESULT", and the rest of its group is run again in a fresh process), and the test of each case asserts
that it did not die by a signal, and that it returned or refused as declared, with a ValueError or
TypeError whose message names the argument.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

import crash_cases

HERE = os.path.dirname(os.path.abspath(__file__))
GROUPS = sorted({group for group, _, _ in crash_cases.CASES.values()})
#: Generous: in a fresh environment the first group may compile the Numba kernels (tens of seconds).
TIMEOUT_S = 900


def _run(group: str, names: list[str]) -> tuple[dict, str | None, str]:
    """Results by case of one child process, the case it died in (if it did) and its stderr."""
    env = dict(os.environ, PYTHONFAULTHANDLER="1", TQDM_DISABLE="1")
    proc = subprocess.run(
        [sys.executable, os.path.join(HERE, "crash_cases.py"), group, *names],
        capture_output=True, text=True, timeout=TIMEOUT_S, cwd=HERE, env=env,
    )
    results, started = {}, None
    for line in proc.stdout.splitlines():
        if line.startswith("START "):
            started = line[6:]
        elif line.startswith("RESULT "):
            result = json.loads(line[7:])
            results[result["case"]] = result
            started = None
    died = None
    if proc.returncode != 0:
        died = started or "<no case started>"
        code = proc.returncode
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        results[died] = {"case": died, "outcome": "died", "how": how, "stderr": proc.stderr[-4000:]}
    return results, died, proc.stderr


@pytest.fixture(scope="session")
def crash_results():
    results = {}
    for group in GROUPS:
        remaining = [n for n, (g, _, _) in crash_cases.CASES.items() if g == group]
        while remaining:
            found, died, _ = _run(group, remaining)
            results.update(found)
            if died is None:
                break
            # carry on after the case that killed the process, in a fresh one
            remaining = [n for n in remaining if n not in found]
    return results


@pytest.mark.parametrize("name", list(crash_cases.CASES))
def test_case(name, crash_results):
    _, (kind, pattern), _ = crash_cases.CASES[name]
    result = crash_results.get(name)
    assert result is not None, f"{name} never ran"
    assert result["outcome"] != "died", f"{name} killed the process ({result['how']}):\n{result['stderr']}"
    if result["outcome"] == "ok":
        assert kind in ("ok", "either"), f"{name}: accepted, but it must be refused with {pattern!r}"
        return
    detail = f"{name}: {result['type']}: {result['message']}\n{result['traceback']}"
    assert kind != "ok", f"must succeed but raised {detail}"
    assert result["type"] in ("ValueError", "TypeError"), f"refused with the wrong exception type: {detail}"
    import re

    assert re.search(pattern, result["message"]), f"message does not match {pattern!r}: {detail}"


def test_console_script_refuses_bad_file(tmp_path):
    """The real entry point, `python -m ricci_fast.cli`, on a file that is not an .npz."""
    bad = tmp_path / "layers.npz"
    bad.write_bytes(b"not a zip file")
    proc = subprocess.run([sys.executable, "-m", "ricci_fast.cli", "flow", str(bad), "--no-progress"],
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode > 0, proc
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "ricci-fast" in proc.stderr
