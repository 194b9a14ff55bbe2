"""Export one bundle in a child process, so a converter that crashes (SIGSEGV in a native
library) costs its own row — ❌ with the signal named — instead of the whole benchmark.

``python -m scoligait_edge.bench.export_worker --model student --target litert --precision int8 --out DIR``
exits 0 on success, 2 with the one-line reason on stderr on a typed failure, and 3 when the
model it loads is not the one the parent fingerprinted (it changed on disk meanwhile).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
from pathlib import Path

EXIT_FAILED, EXIT_MODEL_CHANGED = 2, 3


def export_in_child(
    model_spec: str, target: str, precision: str, out: Path, fingerprint: str, timeout_s: float = 900
) -> str | None:
    """Run the worker; ``None`` on success, else the reason (one line) the row should show."""
    cmd = [
        sys.executable,
        "-m",
        "scoligait_edge.bench.export_worker",
        "--model",
        model_spec,
        "--target",
        target,
        "--precision",
        precision,
        "--out",
        str(out),
        "--fingerprint",
        fingerprint,
    ]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return f"export did not finish in {timeout_s:.0f} s"
    if r.returncode == 0:
        return None
    last = next((ln for ln in reversed(r.stderr.strip().splitlines()) if ln.strip()), "")
    if r.returncode < 0:
        try:
            name = signal.Signals(-r.returncode).name
        except ValueError:
            name = f"signal {-r.returncode}"
        return f"exporter crashed ({name}) in the {target} converter"
    if r.returncode == EXIT_MODEL_CHANGED:
        return f"the model changed on disk during the run ({last})"
    return last or f"export exited with status {r.returncode}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export one bundle (child process of `scoligait-edge bench`).")
    ap.add_argument("--model", required=True)
    ap.add_argument("--target", required=True)
    ap.add_argument("--precision", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--fingerprint", required=True)
    a = ap.parse_args(argv)

    from scoligait_edge.bench.cases import one_line
    from scoligait_edge.bench.quiet import quiet_fds
    from scoligait_edge.bench.sources import load_models, model_fingerprint

    try:
        student, _ = load_models(a.model, teacher=False)
        fp = model_fingerprint(student)
        if fp != a.fingerprint:
            print(f"sha256 {fp[:12]} ≠ {a.fingerprint[:12]}", file=sys.stderr)
            return EXIT_MODEL_CHANGED
        from scoligait_edge.export import export_model

        with quiet_fds():
            export_model(student, a.target, out=a.out, precision=a.precision, validate=False)
    except Exception as e:  # the parent shows this line as the row's reason
        print(one_line(e), file=sys.stderr)
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
