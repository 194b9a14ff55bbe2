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
    ``precision``, ``batch``, ``dynamic``, ``opset``, ``calib`` (``.npz`` path, data directory or
    ``CalibrationSet``), ``calib_method``, ``calib_size``, ``int8_mode``, ``workspace``,
    ``dla_core``, ``validate``, ``parity_data`` (dict of arrays or data directory), ``seed``.
    Raises ``TargetError``, ``UnavailableError``, ``OutputExistsError``, ``ExportError``,
    ``ParityError`` (the bundle is then not written), ``CalibrationError``.
    """
    from scoligait_edge.export import bundle as B
    from scoligait_edge.export import parity as P
    from scoligait_edge.export.sources import resolve_calibration, resolve_heldout

    from scoligait_edge.errors import UnavailableError
    from scoligait_edge.fileio import atomic_dir, check_can_write
    from scoligait_edge.runtime.base import TorchRunner

    say = step or _noop
    t = get_target(target)
    opts = validate_options(t, **options)
    ok = availability(t)
    if ok is not True:
        raise UnavailableError(
            f"target '{t.name}' cannot export here: {ok}", f"install scoligait-edge[{t.name}]"
        )
    say("loading model")
    model = resolve_model(model)
    out = Path(out) if out is not None else default_out(model, t, opts.precision)
    check_can_write(out, force)
    info = B.model_metadata(model)
    if opts.precision == "int8" and getattr(backend(t), "needs_calibration", lambda o: True)(opts):
        say("preparing calibration set")
        opts.calib = resolve_calibration(opts.calib, size=opts.calib_size, seed=opts.seed)
    else:  # e.g. dynamic INT8: a given --data directory is only used for parity
        opts.calib = None
    _check_prompts(opts.calib, info.get("n_prompts"), "calibration")
    calib = opts.calib.describe() | {"method": opts.calib_method} if opts.calib is not None else None
    meta = {
        "schema_version": B.SCHEMA_VERSION,
        "target": t.name,
        "precision": opts.precision,
        "kmap_catalog_hash": B.current_catalog_hash(),
        "decision_threshold": info["decision_threshold"],
        "normalization": info["normalization"],
        "calibration": {k: calib[k] for k in ("hash", "method", "size")} if calib else None,
        "toolkit_version": B.toolkit_version(),
    }
    with atomic_dir(out, force=force) as tmp:
        say(f"exporting {t.name} {opts.precision}")
        arts = backend(t).export(model, opts, tmp, meta)
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
        )
        B.write_manifest(tmp, manifest)
        if opts.validate:
            say("checking parity against PyTorch")
            held = resolve_heldout(opts.parity_data, seed=opts.seed)
            _check_prompts(held, info.get("n_prompts"), "parity")
            be = backend(t)
            cand = be.parity_runner(tmp, manifest) if hasattr(be, "parity_runner") else be.load(tmp, manifest)
            manifest["parity"] = P.validate(
                TorchRunner(model),
                cand,
                held,
                t.tolerance(opts.precision),
                threshold=float(info["decision_threshold"]),
                label=f"{t.name} {opts.precision}",
            )
            if getattr(cand, "parity_note", None):
                manifest["parity"]["note"] = cand.parity_note
        else:
            manifest["parity"] = {"skipped": "--no-validate"}
        B.write_manifest(tmp, manifest)
    return out


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


def load_bundle(path: str | Path, *, verify: bool = True, **kwargs: Any) -> Any:
    """Open any bundle: verify manifest schema, catalog hash and file hashes, then load its Runner."""
    from scoligait_edge.export import bundle as B

    from scoligait_edge.errors import UnavailableError

    man = B.verify_bundle(path) if verify else B.read_manifest(path)
    t = get_target(man["target"])
    ok = availability(t)
    if ok is not True:
        raise UnavailableError(
            f"cannot run a '{t.name}' bundle here: {ok}", f"install scoligait-edge[{t.name}]"
        )
    return backend(t).load(Path(path), man, **kwargs)
