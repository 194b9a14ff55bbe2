"""The Android JVM core (``android_demo/core``): its Kotlin tests against Python-made golden vectors.

Runs ``make android-core-test`` (``mk/android.mk``): the Kotlin compiler comes from the npm package
``kotlin-compiler`` (cached in ``android_demo/core/build``), JUnit 4 from the local Maven repository
or Debian's ``junit4``, the vectors from ``android_demo/tools/make_vectors.py``. Skips with the
reason when a JDK, JUnit or the compiler cannot be obtained on this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
M2 = Path.home() / ".m2" / "repository"
JUNIT = (M2 / "junit/junit/4.13.2/junit-4.13.2.jar", Path("/usr/share/java/junit4.jar"))
HAMCREST = (
    M2 / "org/hamcrest/hamcrest-core/1.3/hamcrest-core-1.3.jar",
    Path("/usr/share/java/hamcrest-core.jar"),
)

pytestmark = pytest.mark.slow


def _run(target: str, timeout: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(
        ["make", "--no-print-directory", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_kotlin_core_passes_against_python_vectors() -> None:
    if shutil.which("make") is None:
        pytest.skip("no make on PATH")
    if shutil.which("java") is None:
        pytest.skip("no JDK on PATH (java): the Kotlin core cannot be compiled or run here")
    if not any(p.is_file() for p in JUNIT) or not any(p.is_file() for p in HAMCREST):
        pytest.skip("JUnit 4.13.2 + hamcrest-core 1.3 jars not found (~/.m2/repository or Debian junit4)")
    got = _run("android-kotlinc", timeout=900)
    if got.returncode != 0:
        last = (got.stdout + got.stderr).strip().splitlines()[-1:] or ["?"]
        pytest.skip(f"the Kotlin compiler (npm kotlin-compiler) could not be obtained: {last[0]}")
    res = _run("android-core-test", timeout=1500)
    out = res.stdout + res.stderr
    m = re.search(r"^(\d+) passed, (\d+) failed$", out, re.M)
    assert m is not None, f"no closing 'N passed, N failed' line:\n{out[-6000:]}"
    failed_lines = "\n".join(line for line in out.splitlines() if line.startswith(("FAIL", "     ")))
    assert res.returncode == 0 and m.group(2) == "0", f"{m.group(0)}\n{failed_lines}\n{out[-3000:]}"
    assert int(m.group(1)) >= 40, m.group(0)
