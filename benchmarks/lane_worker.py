"""Device side of ``benchmarks/lane_parity.py``: run one bundle on saved windows, write its outputs.

Runs natively or inside an emulated lane (``scoligait_edge.runtime.lanes.run_in_lane``), so it
imports numpy and the scoligait_edge runtime pieces only (no torch, no exporter)::

    python benchmarks/lane_worker.py BUNDLE INPUTS.npz OUT.npz [--batch N] [--progress FILE]

``INPUTS.npz`` holds the contract inputs (``kmap``, ``silhouette``, ``prompt_id``; other arrays are
ignored). The runner is the one ``verify`` uses: the backend's ``verify_runner`` where it has one
(TensorRT: its Q/DQ ONNX under ONNX Runtime with optimizations off when no engine can run),
otherwise the bundle's own runtime. Prints one JSON line: ``status`` ``ok`` (with ``ran``, ``cpu``,
``seconds``), ``skipped`` (the runtime is not available here; exit 3) or ``error`` (exit 1).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

EXIT_ERROR = 1
EXIT_SKIPPED = 3


def _progress(path: str | None, done: int, total: int) -> None:
    if not path:
        return
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(f"{done} {total}\n")
    os.replace(tmp, path)


def _runner(bundle: Path) -> tuple[object, str, dict]:
    """The runner ``verify`` would use for ``bundle`` here, what it is, and the manifest."""
    from scoligait_edge.export import backend, get_target, load_bundle, runtime_availability
    from scoligait_edge.export.bundle import verify_bundle

    from scoligait_edge.errors import UnavailableError

    man = verify_bundle(bundle)
    t = get_target(man["target"])
    ok = runtime_availability(t)
    if ok is not True:
        raise UnavailableError(f"no {t.name} runtime in this lane: {ok}", "")
    be = backend(t)
    if hasattr(be, "verify_runner"):
        runner, what = be.verify_runner(bundle, man)
    else:
        runner, what = load_bundle(bundle, verify=False), f"{t.name} runtime"
    return runner, what, man


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle", type=Path)
    ap.add_argument("inputs", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--batch", type=int, default=8, help="windows per runner call")
    ap.add_argument("--progress", default=None, help="file to write 'done total' into as batches finish")
    a = ap.parse_args(argv)

    from scoligait_edge.contract import INPUT_NAMES
    from scoligait_edge.errors import ScoliGaitError, UnavailableError
    from scoligait_edge.runtime import device

    cpu = device.cpu_info()
    try:
        t0 = time.perf_counter()
        runner, what, man = _runner(a.bundle)
        load_s = time.perf_counter() - t0
    except UnavailableError as e:
        print(json.dumps({"status": "skipped", "reason": e.line(), "cpu": cpu}))
        return EXIT_SKIPPED
    except (ScoliGaitError, ImportError, OSError, RuntimeError) as e:
        print(json.dumps({"status": "error", "error": f"loading: {type(e).__name__}: {e}"[:600], "cpu": cpu}))
        return EXIT_ERROR

    with np.load(a.inputs, allow_pickle=False) as z:
        x = {k: z[k] for k in INPUT_NAMES}
    n = len(x[INPUT_NAMES[0]])
    parts: list[dict[str, np.ndarray]] = []
    _progress(a.progress, 0, n)
    t1 = time.perf_counter()
    try:
        for s in range(0, n, max(1, a.batch)):
            parts.append(runner.run({k: v[s : s + a.batch] for k, v in x.items()}))
            _progress(a.progress, min(n, s + a.batch), n)
    except Exception as e:  # a runtime failing mid-run is a result, not a crash of the benchmark
        print(json.dumps({"status": "error", "error": f"running: {type(e).__name__}: {e}"[:600], "cpu": cpu}))
        return EXIT_ERROR
    run_s = time.perf_counter() - t1
    out = {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}
    tmp = a.out.with_name(a.out.name + ".part.npz")
    np.savez(tmp, **out)
    os.replace(tmp, a.out)
    recipe = man.get("int8_recipe") or {}
    valid_here = None if not recipe else cpu["device_class"] in recipe.get("valid_on", [])
    print(
        json.dumps(
            {
                "status": "ok",
                "ran": what,
                "windows": n,
                "load_s": round(load_s, 2),
                "run_s": round(run_s, 2),
                "cpu": cpu,
                "recipe": recipe.get("name"),
                "recipe_valid_here": valid_here,
                "torch_imported": "torch" in sys.modules,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
