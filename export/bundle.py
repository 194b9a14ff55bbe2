"""Bundles: artifact file(s) + ``manifest.json``, written atomically and verified before loading.

Layout::

    student_onnx_int8/
        model.onnx            artifact(s) named in manifest["files"] (sha256 + size each)
        manifest.json         see :func:`build_manifest`
        ...                   backend extras (trtexec.sh, mobile_usability.txt, ...), also hashed

A bundle is built in a temporary sibling directory and renamed into place (``fileio.atomic_dir``):
an export that fails (including a failed parity check) leaves no bundle behind, and an existing
bundle is only replaced with ``force=True``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from scoligait_edge.contract import INPUTS, OUTPUTS
from scoligait_edge.errors import BundleError
from scoligait_edge.fileio import atomic_write_text, sha256_file

SCHEMA_VERSION = 2  #: 2: device class, INT8 recipe, export machine, golden vectors, two-part parity
MANIFEST = "manifest.json"
FORMAT = "scoligait-edge-bundle"
#: Keys copied into ONNX ``metadata_props`` (prefixed ``scoligait.``).
ONNX_METADATA_KEYS = (
    "schema_version",
    "target",
    "precision",
    "device_class",
    "kmap_catalog_hash",
    "decision_threshold",
    "normalization",
    "calibration",
    "toolkit_version",
)


def current_catalog_hash() -> str | None:
    """The knowledge-map catalog hash of this toolkit (``None`` while the catalog is not available)."""
    try:
        from scoligait_edge.kmap.catalog import catalog_hash
    except ImportError:
        return None
    return str(catalog_hash())


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of distributions (missing ones omitted)."""
    out = {}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return out


def toolkit_version() -> str:
    from scoligait_edge import __version__

    return __version__


def io_spec(batch: int | str = "batch") -> dict[str, list[dict[str, Any]]]:
    """Input/output names, shapes and dtypes from the contract (``batch`` fills the symbolic axis)."""

    def spec(table: Mapping[str, tuple[tuple[str | int, ...], str]]) -> list[dict[str, Any]]:
        return [
            {"name": n, "shape": [batch if s == "batch" else s for s in shape], "dtype": dt}
            for n, (shape, dt) in table.items()
        ]

    return {"inputs": spec(INPUTS), "outputs": spec(OUTPUTS)}


def _to_list(x: Any) -> Any:
    try:
        import numpy as np

        a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
        return a.tolist()
    except Exception:
        return None


def model_metadata(model: Any) -> dict[str, Any]:
    """Normalization stats (buffers named ``*mean*``/``*std*``/``*scale*``), decision threshold, size.

    The threshold comes from the model (``decision_threshold`` attribute/buffer/config), else 0.5.
    """
    norm: dict[str, Any] = {}
    for name, buf in getattr(model, "named_buffers", lambda: [])():
        low = name.lower()
        if any(k in low for k in ("mean", "std", "scale", "center", "norm_")) and buf.numel() <= 4096:
            if "running_" in low or "num_batches" in low:
                continue
            norm[name] = _to_list(buf)
    thr: Any = None
    for holder in (model, getattr(model, "config", None), getattr(model, "cfg", None)):
        if holder is None:
            continue
        for attr in ("decision_threshold", "threshold"):
            v = holder.get(attr) if isinstance(holder, Mapping) else getattr(holder, attr, None)
            if v is not None:
                thr = float(v.item() if hasattr(v, "item") else v)
                break
        if thr is not None:
            break
    params = sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None
    cfg = getattr(model, "cfg", None)
    return {
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "parameters": params,
        "n_prompts": getattr(cfg, "n_prompts", None),
        "normalization": norm,
        "decision_threshold": 0.5 if thr is None or not math.isfinite(thr) else thr,
    }


def file_entries(bundle_dir: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file in the bundle except the manifest (sorted, relative names)."""
    out = {}
    for p in sorted(bundle_dir.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            out[p.relative_to(bundle_dir).as_posix()] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    return out


def build_manifest(
    bundle_dir: Path,
    *,
    target: str,
    precision: str,
    artifact: str,
    model_info: Mapping[str, Any],
    options: Mapping[str, Any],
    versions: Mapping[str, str],
    calibration: Mapping[str, Any] | None = None,
    backend_info: Mapping[str, Any] | None = None,
    parity: Mapping[str, Any] | None = None,
    device_class: str = "any",
    int8_recipe: Mapping[str, Any] | None = None,
    golden: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Assemble the manifest dict (file hashes are computed from ``bundle_dir`` now).

    ``device_class``/``int8_recipe``: the deployment device class the artifact was made for and
    the INT8 recipe (types, reduce_range, overflow fix, where its kernels are correct);
    ``export_machine``: this machine's CPU and ISA; ``golden``: the golden-vector file and its
    tolerances (``scoligait-edge verify`` runs them).
    """
    from scoligait_edge.runtime.device import cpu_info

    batch: int | str = "batch" if options.get("dynamic", True) else int(options.get("batch", 1))
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "target": target,
        "precision": precision,
        "device_class": device_class,
        "int8_recipe": dict(int8_recipe) if int8_recipe else None,
        "artifact": artifact,
        "created_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **io_spec(batch),
        "kmap_catalog_hash": current_catalog_hash(),
        "normalization": model_info.get("normalization", {}),
        "decision_threshold": model_info.get("decision_threshold", 0.5),
        "model": {k: v for k, v in model_info.items() if k not in ("normalization", "decision_threshold")},
        "calibration": dict(calibration) if calibration else None,
        "options": dict(options),
        "toolkit_version": toolkit_version(),
        "versions": {"python": platform.python_version(), **versions},
        "export_machine": cpu_info(),
        "golden": dict(golden) if golden else None,
        "backend": dict(backend_info or {}),
        "files": file_entries(bundle_dir),
        "parity": dict(parity) if parity else None,
    }


def write_manifest(bundle_dir: Path, manifest: Mapping[str, Any]) -> Path:
    """Write ``manifest.json`` (atomically, pretty-printed, NaN-free)."""
    text = json.dumps(manifest, indent=2, sort_keys=False, allow_nan=False, default=_json_default)
    return atomic_write_text(bundle_dir / MANIFEST, text + "\n", force=True)


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def read_manifest(bundle_dir: str | Path) -> dict[str, Any]:
    """Read and structurally check ``manifest.json``; raises :class:`BundleError` with the reason."""
    d = Path(bundle_dir)
    if not d.is_dir():
        raise BundleError(
            f"bundle {d} is not a directory", "pass the directory written by `scoligait-edge export`"
        )
    mpath = d / MANIFEST
    if not mpath.is_file():
        raise BundleError(f"bundle {d} has no {MANIFEST}", "re-export it with `scoligait-edge export`")
    try:
        man = json.loads(mpath.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(
            f"{mpath} is not valid JSON ({e.__class__.__name__})", "re-export the bundle"
        ) from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise BundleError(f"{mpath} is not a scoligait-edge bundle manifest", "re-export the bundle")
    return man


def verify_bundle(bundle_dir: str | Path, check_catalog: bool = True) -> dict[str, Any]:
    """Verify schema version, catalog hash and every file's size + sha256; return the manifest.

    Raises :class:`BundleError` naming the first problem (which file, which field).
    """
    d = Path(bundle_dir)
    man = read_manifest(d)
    sv = man.get("schema_version")
    if sv != SCHEMA_VERSION:
        raise BundleError(
            f"bundle {d.name} has manifest schema version {sv}, this toolkit reads {SCHEMA_VERSION}",
            "re-export the bundle with this version of scoligait-edge",
        )
    from scoligait_edge.export.targets import TARGETS

    if man.get("target") not in TARGETS:
        raise BundleError(f"bundle {d.name} has unknown target {man.get('target')!r}", "re-export the bundle")
    if check_catalog:
        want, have = man.get("kmap_catalog_hash"), current_catalog_hash()
        if want and have and want != have:
            raise BundleError(
                f"bundle {d.name} was built for knowledge-map catalog {want[:12]}, "
                f"this toolkit has {have[:12]}",
                "re-export the model with this toolkit (feature indices differ)",
            )
    files = man.get("files")
    if not isinstance(files, dict) or not files:
        raise BundleError(f"bundle {d.name} manifest lists no files", "re-export the bundle")
    root = d.resolve()
    for name, entry in files.items():
        p = (d / name).resolve()
        if root not in p.parents:
            raise BundleError(
                f"bundle {d.name} manifest names a file outside the bundle: {name}", "do not trust it"
            )
        if not p.is_file():
            raise BundleError(
                f"bundle {d.name} is missing file {name}", "re-export or re-copy the whole bundle"
            )
        size = p.stat().st_size
        if size != entry.get("bytes"):
            raise BundleError(
                f"bundle file {name} is {size} bytes, manifest says {entry.get('bytes')} "
                "(truncated or replaced)",
                "re-copy or re-export the bundle",
            )
        if sha256_file(p) != entry.get("sha256"):
            raise BundleError(
                f"bundle file {name} does not match its sha256 in the manifest (tampered or corrupt)",
                "re-copy or re-export the bundle",
            )
    if man.get("artifact") not in files:
        raise BundleError(
            f"bundle {d.name} artifact {man.get('artifact')!r} is not in its file list", "re-export"
        )
    return man


def onnx_metadata(fields: Mapping[str, Any]) -> dict[str, str]:
    """The ``scoligait.*`` string key/values stored in an ONNX model's ``metadata_props``."""
    out = {}
    for k in ONNX_METADATA_KEYS:
        if k in fields and fields[k] is not None:
            v = fields[k]
            out[f"scoligait.{k}"] = v if isinstance(v, str) else json.dumps(v, default=_json_default)
    return out
