"""Crash isolation: exports, and a first load + inference of each bundle, run in child processes,
so a native library that crashes (SIGSEGV in a converter or a runtime's compiler) costs its
own row — ❌ with the signal named — instead of the whole benchmark.

``python -m scoligait_edge.bench.export_worker --model student --target litert --precision int8 --out DIR``
exits 0 on success, 2 with the one-line reason on stderr on a typed failure, and 3 when the
model it loads is not the one the parent fingerprinted (it changed on disk meanwhile).
``python -m scoligait_edge.bench.export_worker --probe BUNDLE…`` loads each bundle and runs one
inference, printing ``start``/``ok``/``fail`` lines the parent follows.
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


def probe_in_child(bundles: list[Path], timeout_s: float = 600) -> dict[Path, str | None]:
    """Load + run each bundle once in a child; a crash marks that bundle and the rest are retried."""
    out: dict[Path, str | None] = {}
    todo = list(bundles)
    while todo:
        cmd = [sys.executable, "-m", "scoligait_edge.bench.export_worker", "--probe", *map(str, todo)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
            lines, code = r.stdout.splitlines(), r.returncode
        except subprocess.TimeoutExpired as e:
            lines, code = (e.stdout or b"").decode(errors="replace").splitlines(), -1
        current = None
        for line in lines:
            kind, _, rest = line.partition(" ")
            path_s, _, reason = rest.partition("\t")
            if kind == "start":
                current = Path(path_s)
            elif kind in ("ok", "fail"):
                out[Path(path_s)] = None if kind == "ok" else reason
                current = None
        if current is not None:  # died while on this bundle
            try:
                name = signal.Signals(-code).name if code < 0 else f"exit {code}"
            except ValueError:
                name = f"signal {-code}"
            out[current] = f"runtime crashed ({name}) loading or running the bundle"
        elif code != 0 and not lines:
            for p in todo:
                out.setdefault(p, f"probe process failed (exit {code})")
        todo = [p for p in todo if p not in out]
    return out


def _probe(paths: list[str]) -> int:
    from scoligait_edge.bench.cases import one_line
    from scoligait_edge.bench.quiet import quiet_fds
    from scoligait_edge.bench.sources import load_runner
    from scoligait_edge.runtime.base import make_inputs

    x = make_inputs(1, n_prompts=1)
    for p in paths:
        print(f"start {p}", flush=True)
        try:
            with quiet_fds():
                load_runner(Path(p), 1).run(x)
            print(f"ok {p}", flush=True)
        except Exception as e:
            print(f"fail {p}\t{one_line(e)}", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Export or probe bundles (child process of `scoligait-edge bench`)."
    )
    ap.add_argument("--probe", nargs="+", help="bundles to load and run once")
    ap.add_argument("--model")
    ap.add_argument("--target")
    ap.add_argument("--precision")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--fingerprint")
    a = ap.parse_args(argv)
    if a.probe:
        return _probe(a.probe)

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
