"""Export targets (imported as ``scoligait_edge.export``): one backend module per target + one table.

Public API::

    from scoligait_edge.export import export_model, load_bundle
    path = export_model(model, "onnx", out="student_onnx_int8", precision="int8", calib="calib.npz")
    runner = load_bundle(path)            # verified (schema, catalog, sha256) before loading
    runner.run({"kmap": ..., "silhouette": ..., "prompt_id": ...})

See :mod:`scoligait_edge.export.targets` for the table and the backend interface.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from scoligait_edge.export.targets import (
    TARGETS,
    ExportOptions,
    Target,
    availability,
    backend,
    export_formats,
    get_target,
    validate_options,
)

__all__ = [
    "TARGETS",
    "ExportOptions",
    "Target",
    "availability",
    "backend",
    "export_formats",
    "export_model",
    "get_target",
    "load_bundle",
    "validate_options",
]

Step = Callable[[str], None]


def _noop(_: str) -> None:
    return None


def resolve_model(model: Any = None) -> Any:
    """``None`` → the shipped student; a path → ``scoligait_edge.models.load_model``; a module as is."""
    from scoligait_edge.errors import ModelError

    if model is None:
        try:
            from scoligait_edge.models import load_default_student
        except ImportError as e:
            raise ModelError(f"no shipped student available ({e})", "pass --model PATH") from None
        return load_default_student().eval()
    if isinstance(model, (str, Path)):
        from scoligait_edge.models import load_model

        return load_model(Path(model)).eval()
    return model.eval()


def default_out(model: Any, target: Target, precision: str) -> Path:
    """``<model-name>_<target>_<precision>`` in the current directory."""
    name = getattr(model, "name", None) or type(model).__name__.lower()
    return Path(f"{name}_{target.name}_{precision}")


def export_model(
    model: Any = None,
    target: str = "onnx",
    out: str | Path | None = None,
    *,
    force: bool = False,
    step: Step | None = None,
    **options: Any,
) -> Path:
    """Export ``model`` to ``target``; write a verified bundle atomically; return its directory.

    ``options`` are validated against the target's row (see :class:`ExportOptions`):
    ``precision``, ``device`` (INT8 device class, default ``any`` = portable), ``batch``,
    ``dynamic``, ``opset``, ``calib`` (``.npz`` path, data directory or ``CalibrationSet``),
    ``calib_method``, ``calib_size``, ``int8_mode``, ``workspace``, ``dla_core``, ``validate``,
    ``parity_data`` (dict of arrays or data directory), ``seed``. Every bundle carries golden
    vectors; with ``validate`` the parity report (this machine's kernels and the CPU-independent
    numerics of the quantized graph, both vs PyTorch) gates the export.
    Raises ``TargetError``, ``UnavailableError``, ``OutputExistsError``, ``ExportError``,
    ``ParityError`` (the bundle is then not written), ``CalibrationError``.
    """
    from scoligait_edge.export import bundle as B
    from scoligait_edge.export.sources import resolve_calibration, resolve_heldout

    from scoligait_edge.errors import UnavailableError
    from scoligait_edge.fileio import atomic_dir, check_can_write
    from scoligait_edge.runtime import device, golden
    from scoligait_edge.runtime import parity as P
    from scoligait_edge.runtime.base import TorchRunner

    say = step or _noop
    t = get_target(target)
    opts = validate_options(t, **options)
    ok = availability(t)
    if ok is not True:
        raise UnavailableError(
            f"target '{t.name}' cannot export here: {ok}",
            f"pip install 'scoligait-edge[{extra_for(t.name)}]'",
        )
    say("loading model")
    model = resolve_model(model)
    out = Path(out) if out is not None else default_out(model, t, opts.precision)
    check_can_write(out, force)
    info = B.model_metadata(model)
    be = backend(t)
    if opts.precision == "int8" and getattr(be, "needs_calibration", lambda o: True)(opts):
        say("preparing calibration set")
        opts.calib = resolve_calibration(opts.calib, size=opts.calib_size, seed=opts.seed)
    else:  # e.g. dynamic INT8: a given --data directory is only used for parity
        opts.calib = None
    _check_prompts(opts.calib, info.get("n_prompts"), "calibration")
    calib = opts.calib.describe() | {"method": opts.calib_method} if opts.calib is not None else None
    recipe = t.recipe(opts.device) if opts.precision == "int8" else None
    meta = {
        "schema_version": B.SCHEMA_VERSION,
        "target": t.name,
        "precision": opts.precision,
        "device_class": opts.device,
        "kmap_catalog_hash": B.current_catalog_hash(),
        "decision_threshold": info["decision_threshold"],
        "normalization": info["normalization"],
        "calibration": {k: calib[k] for k in ("hash", "method", "size")} if calib else None,
        "toolkit_version": B.toolkit_version(),
    }
    threshold = float(info["decision_threshold"])
    tol = t.tolerance(opts.precision)
    say("preparing parity windows")
    held = resolve_heldout(opts.parity_data, seed=opts.seed)
    if opts.validate or opts.parity_data is not None:
        _check_prompts(held, info.get("n_prompts"), "parity")
    elif info.get("n_prompts"):  # golden vectors only: the synthetic windows, in the model's prompt table
        held["prompt_id"] = held["prompt_id"] % int(info["n_prompts"])
    reference = TorchRunner(model)
    ref_out = P.run_batched(reference, held)
    with atomic_dir(out, force=force) as tmp:
        say(f"exporting {t.name} {opts.precision}")
        arts = be.export(model, opts, tmp, meta)
        numerics = arts.numerics() if arts.numerics is not None else None
        say("writing golden vectors")
        gold = _golden_inputs(held, ref_out["referral_prob"], threshold)
        golden.write(
            tmp / golden.GOLDEN,
            gold,
            P.run_batched(reference, gold),
            P.run_batched(numerics, gold) if numerics is not None else None,
        )
        manifest = B.build_manifest(
            tmp,
            target=t.name,
            precision=opts.precision,
            artifact=arts.artifact,
            model_info=info,
            options=opts.as_manifest(),
            versions=arts.versions,
            calibration=calib,
            backend_info=arts.info,
            device_class=opts.device,
            int8_recipe=recipe.as_manifest(opts.device) if recipe else None,
            golden={
                "file": golden.GOLDEN,
                "windows": len(gold["prompt_id"]),
                "selection": "clear referrals and non-referrals of the parity windows",
                "tolerance_reference": tol.as_dict(),
                "tolerance_expected": P.KERNEL_TOL.as_dict() if numerics is not None else None,
                "expected_from": arts.numerics_how if numerics is not None else None,
            },
        )
        B.write_manifest(tmp, manifest)
        if opts.validate:
            say("checking parity against PyTorch")
            kernels = getattr(be, "kernel_runner", be.load)(tmp, manifest)
            context = {
                "cpu": device.describe(),
                "device_class": device.device_class(),
                "runtime": be.version(),
            }
            rep = P.artifact_report(
                ref_out, kernels, numerics or arts.numerics_how, held, tol, threshold, context
            )
            rep["numerics"]["how"] = arts.numerics_how
            if not isinstance(kernels, str):
                rep["golden"] = golden.run(kernels, tmp, manifest)
                rep["failures"] += [f"golden: {f}" for f in rep["golden"]["failures"]]
                rep["passed"] = not rep["failures"]
            manifest["parity"] = rep
            if not rep["passed"]:
                P.raise_parity(rep, f"{t.name} {opts.precision} ({opts.device})")
        else:
            manifest["parity"] = {"skipped": "--no-validate"}
        B.write_manifest(tmp, manifest)
    return out


def _golden_inputs(held: dict[str, Any], prob: Any, threshold: float) -> dict[str, Any]:
    """The golden windows (clear decisions) of the parity set, rounded as the golden file stores them."""
    from scoligait_edge.runtime import golden

    idx = golden.select(prob, threshold)
    return golden.compact_inputs({k: held[k][idx] for k in ("kmap", "silhouette", "prompt_id")})


def _check_prompts(data: Any, n_prompts: int | None, what: str) -> None:
    """Windows must index the model's prompt table (a mismatch means another prompt table)."""
    import numpy as np

    from scoligait_edge.errors import DatasetError

    if data is None or not n_prompts:
        return
    pid = np.asarray(data["prompt_id"] if isinstance(data, dict) else data.prompt_id)
    if pid.size and int(pid.max()) >= n_prompts:
        raise DatasetError(
            f"{what} windows use prompt ids up to {int(pid.max())} but the model's prompt table "
            f"has {n_prompts} entries",
            "build the windows with the prompt table the model was trained with (or retrain the model)",
        )


def load_bundle(path: str | Path, *, verify: bool = True, self_test: bool = False, **kwargs: Any) -> Any:
    """Open any bundle: verify manifest schema, catalog hash and file hashes, then load its Runner.

    Needs only numpy and the bundle's runtime (no torch, no exporter). ``self_test=True`` also runs
    the bundle's golden vectors on this machine and raises :class:`ParityError` if they fail.
    """
    from scoligait_edge.export import bundle as B

    from scoligait_edge.errors import UnavailableError

    man = B.verify_bundle(path) if verify else B.read_manifest(path)
    t = get_target(man["target"])
    be = backend(t)
    ok = runtime_availability(t)
    if ok is not True:
        raise UnavailableError(
            f"cannot run a '{t.name}' bundle here: {ok}",
            f"pip install 'scoligait-edge[{runtime_extra_for(t.name)}]'",
        )
    runner = be.load(Path(path), man, **kwargs)
    if self_test:
        from scoligait_edge.runtime import golden
        from scoligait_edge.runtime.parity import raise_parity

        rep = golden.run(runner, Path(path), man)
        if not rep["passed"]:
            raise_parity(
                rep, f"bundle {Path(path).name} on this CPU", "run `scoligait-edge verify` for details"
            )
    return runner


#: pyproject extras that bring a target's exporter / runtime (the base install is the device profile).
_EXPORT_EXTRA = {"tensorrt": "full,tensorrt", "litert": "full,litert", "executorch": "full,executorch"}
_RUNTIME_EXTRA = {"openvino": "openvino", "litert": "litert", "executorch": "executorch", "pytorch": "export"}


def extra_for(target: str) -> str:
    return _EXPORT_EXTRA.get(target, "full")


def runtime_extra_for(target: str) -> str:
    return _RUNTIME_EXTRA.get(target, "full")


def runtime_availability(target: str | Target) -> bool | str:
    """``True`` if a bundle of ``target`` can be *run* here (its runtime only, not the exporter)."""
    be = backend(target)
    try:
        return getattr(be, "can_run", be.is_available)()
    except Exception as e:  # a broken optional install must not break loading others
        return f"runtime import failed: {type(e).__name__}: {e}"
