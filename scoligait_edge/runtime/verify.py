"""``verify``: run a bundle's golden vectors on this machine (or in an emulated device lane).

Device side: needs numpy and the bundle's runtime only — no torch, no exporter — so the same
module runs on a Jetson, a laptop, under ``qemu-x86_64 -cpu Haswell`` and in the ARM64 lane::

    python -m scoligait_edge.runtime.verify BUNDLE [--json]

prints a report (pass/fail per check and output, CPU class, runtime version) and exits 1 when the
golden vectors fail, 3 when the bundle cannot run here.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from scoligait_edge.errors import ScoliGaitError, UnavailableError
from scoligait_edge.runtime import device, golden

EXIT_FAILED = 1
EXIT_CANNOT_RUN = 3


def verify(path: str | Path) -> dict[str, Any]:
    """Verify the bundle's files, load its runner here, run its golden vectors; return the report."""
    from scoligait_edge.export import backend, get_target, load_bundle
    from scoligait_edge.export.bundle import verify_bundle

    p = Path(path)
    man = verify_bundle(p)
    be = backend(get_target(man["target"]))
    if hasattr(be, "verify_runner"):
        runner, what = be.verify_runner(p, man)
    else:
        runner, what = load_bundle(p, verify=False), f"{man['target']} runtime"
    rep = golden.run(runner, p, man)
    recipe = man.get("int8_recipe") or {}
    made_for = man.get("device_class", "any")
    here = device.device_class()
    return {
        "bundle": str(p),
        "target": man["target"],
        "precision": man["precision"],
        "made_for": made_for,
        "recipe": recipe.get("name"),
        "recipe_valid_here": None if not recipe else here in recipe.get("valid_on", []),
        "ran": what,
        "runtime": _runtime_versions(man),
        "cpu": device.cpu_info(),
        **rep,
    }


#: Distributions that run artifacts (their versions on this machine go into the report).
RUNTIMES = ("onnxruntime", "openvino", "ai-edge-litert", "executorch", "tensorrt", "numpy")


def _runtime_versions(manifest: dict[str, Any]) -> str:
    """``onnxruntime 1.31.1 (export: 1.31.1), numpy 2.4.6`` for the runtimes installed here."""
    from importlib import metadata

    made = manifest.get("versions", {})
    parts = []
    for dist in RUNTIMES:
        try:
            v = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        was = made.get(dist)
        parts.append(f"{dist} {v}" + (f" (export: {was})" if was and was != v else ""))
    return ", ".join(parts)


def summary_lines(rep: dict[str, Any]) -> list[str]:
    """Human-readable lines: one per check and output, then the verdict."""
    cpu = rep["cpu"]
    lines = [
        f"bundle {rep['bundle']}: {rep['target']} {rep['precision']} made for '{rep['made_for']}'"
        + (f" (recipe {rep['recipe']})" if rep.get("recipe") else ""),
        f"ran: {rep['ran']} — {rep['runtime']}",
        f"cpu: {cpu['cpu_model']} [{cpu['device_class']}: {' '.join(cpu['isa_flags'])}]",
    ]
    for name, c in rep["checks"].items():
        for out, fig in c["outputs"].items():
            lim = c["tolerance"]["atol"].get(out, c["tolerance"]["saliency_tv"])
            val = fig.get("tv_max", fig["max_abs"])
            mark = "ok " if val <= lim else "BAD"
            lines.append(f"  {mark} {name:<12} {out:<18} {val:.3g} (≤ {lim:g})")
        lines.append(
            f"  {'ok ' if c['decision_agreement'] >= c['tolerance']['min_agreement'] else 'BAD'} "
            f"{name:<12} {'decision agreement':<18} {c['decision_agreement']:.0%}"
        )
    lines.append(f"{'PASS' if rep['passed'] else 'FAIL'}: {rep['windows']} golden windows")
    return lines


LANE_TIMEOUT_S = 900  #: an emulated lane is 30-500x slower than native: golden vectors only


def verify_in_lane(path: str | Path, lane: str = "native") -> dict[str, Any]:
    """:func:`verify` in a device lane (``native``, ``x86-avx2``, ``arm64``); a report either way.

    A lane that cannot be built or lacks the bundle's runtime gives ``skipped`` with the reason.
    """
    import subprocess

    from scoligait_edge.runtime import lanes

    if lane == "native":
        return {"lane": lane, **verify(path)}
    ok = lanes.availability(lane)
    if ok is not True:
        return {"lane": lane, "passed": None, "skipped": str(ok)}
    argv = ["-m", "scoligait_edge.runtime.verify", str(Path(path).resolve()), "--json"]
    try:
        proc = lanes.run_in_lane(lane, argv, timeout=LANE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return {"lane": lane, "passed": False, "error": f"timed out after {LANE_TIMEOUT_S} s"}
    except lanes.LaneError as e:
        return {"lane": lane, "passed": None, "skipped": str(e)}
    try:
        rep = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        tail = " ".join(proc.stderr.strip().splitlines()[-2:])[:300]
        return {"lane": lane, "passed": False, "error": f"lane exited {proc.returncode}: {tail}"}
    if proc.returncode == EXIT_CANNOT_RUN:
        return {"lane": lane, "passed": None, "skipped": rep.get("cannot_run"), "cpu": rep.get("cpu")}
    return {"lane": lane, **rep}


def lane_names(spec: str) -> list[str]:
    """``native|x86-avx2|arm64|all`` (comma-separated allowed) → lane names, validated."""
    from scoligait_edge.runtime import lanes

    names = list(lanes.LANES) if spec.strip() == "all" else [p.strip() for p in spec.split(",") if p.strip()]
    bad = [n for n in names if n not in lanes.LANES]
    if bad or not names:
        raise ScoliGaitError(
            f"unknown lane {bad[0] if bad else spec!r}", f"use {'|'.join(lanes.LANES)} or all"
        )
    return names


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m scoligait_edge.runtime.verify", description=__doc__)
    ap.add_argument("bundle")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    a = ap.parse_args(argv)
    try:
        rep = verify(a.bundle)
    except UnavailableError as e:
        rep, code = {"passed": False, "cannot_run": e.line(), "cpu": device.cpu_info()}, EXIT_CANNOT_RUN
    except ScoliGaitError as e:
        rep, code = {"passed": False, "error": e.line(), "cpu": device.cpu_info()}, EXIT_FAILED
    else:
        code = 0 if rep["passed"] else EXIT_FAILED
    if a.json:
        print(json.dumps(rep, default=str))
    elif "checks" in rep:
        print("\n".join(summary_lines(rep)))
    else:
        print(f"error: {rep.get('cannot_run') or rep.get('error')}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
