"""Golden vectors: a few real windows in every bundle, with reference outputs and tolerances.

``golden.npz`` (numpy only, ``allow_pickle=False``; hashed in the manifest like every file):

- inputs: ``kmap`` as float16 (the references are computed on exactly these values), silhouettes
  bit-packed, ``prompt_id``;
- ``reference/*``: the FP32 PyTorch model's outputs — checked with the target table's tolerance;
- ``expected/*`` (quantized artifacts): the CPU-independent evaluation of the quantized graph
  (Q/DQ as float ops) — checked with :data:`~scoligait_edge.runtime.parity.KERNEL_TOL`, which is
  what catches integer kernels that compute the graph wrongly on this CPU (e.g. int16 saturation);
- saliency is stored as its feature and time marginals (238 + 96 values a window, each sums to 1).

Windows are chosen with clear decisions (probability far from the threshold), half referrals and
half not, so a flip is a real disagreement and not rounding at the boundary.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.contract import INPUT_NAMES, SIL_H, SIL_W, WINDOW
from scoligait_edge.errors import BundleError
from scoligait_edge.runtime import parity as P

GOLDEN = "golden.npz"
N_GOLDEN = 6


def compact_inputs(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inputs rounded to what the golden file stores (kmap → float16), as float32 again."""
    return {
        "kmap": np.asarray(inputs["kmap"], np.float16).astype(np.float32),
        "silhouette": (np.asarray(inputs["silhouette"]) >= 0.5).astype(np.float32),
        "prompt_id": np.asarray(inputs["prompt_id"], np.int64),
    }


def select(prob: np.ndarray, threshold: float, n: int = N_GOLDEN) -> np.ndarray:
    """Indices of ``n`` windows: the most confident referrals and non-referrals, alternately."""
    p = np.asarray(prob, np.float64).reshape(-1)
    order = np.argsort(-np.abs(p - threshold))
    pos = [int(i) for i in order if p[i] >= threshold]
    neg = [int(i) for i in order if p[i] < threshold]
    picked = [i for pair in itertools.zip_longest(pos, neg) for i in pair if i is not None][:n]
    return np.array(sorted(picked), dtype=np.int64)


def _pack(outputs: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    out = {f"{prefix}/{k}": np.asarray(outputs[k], np.float32) for k in P.SCALAR_OUTPUTS}
    for k, v in P.saliency_marginals(outputs["saliency"]).items():
        out[f"{prefix}/{k}"] = v.astype(np.float32)
    return out


def write(
    path: Path,
    inputs: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write ``golden.npz`` from compact inputs and the outputs computed on them."""
    x = compact_inputs(inputs)
    arrays = {
        "kmap": x["kmap"].astype(np.float16),
        "silhouette_bits": np.packbits(x["silhouette"].astype(bool), axis=-1),
        "prompt_id": x["prompt_id"],
        **_pack(reference, "reference"),
    }
    if expected is not None:
        arrays |= _pack(expected, "expected")
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def read(bundle_dir: Path, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Inputs, reference and expected outputs of a bundle's golden file (refuses malformed files)."""
    g = manifest.get("golden") or {}
    name = g.get("file")
    if not name:
        raise BundleError(
            f"bundle {Path(bundle_dir).name} has no golden vectors",
            "re-export it with this version of scoligait-edge (bundles carry golden.npz since schema 2)",
        )
    try:
        with np.load(Path(bundle_dir) / name, allow_pickle=False) as z:
            a = {k: z[k] for k in z.files}
        n = len(a["prompt_id"])
        sil = np.unpackbits(a["silhouette_bits"], axis=-1, count=SIL_W).astype(np.float32)
        inputs = {"kmap": a["kmap"].astype(np.float32), "silhouette": sil, "prompt_id": a["prompt_id"]}
        if inputs["kmap"].shape[1:] != (WINDOW, inputs["kmap"].shape[2]) or sil.shape[1:] != (
            WINDOW,
            SIL_H,
            SIL_W,
        ):
            raise ValueError("input shapes")
    except (OSError, KeyError, ValueError) as e:
        raise BundleError(
            f"golden vectors {name} of bundle {Path(bundle_dir).name} are unreadable "
            f"({type(e).__name__}: {e})",
            "re-copy or re-export the bundle",
        ) from None

    def outputs(prefix: str) -> dict[str, np.ndarray] | None:
        keys = [k for k in a if k.startswith(prefix + "/")]
        return {k.split("/", 1)[1]: a[k] for k in keys} if keys else None

    return {"n": n, "inputs": {k: inputs[k] for k in INPUT_NAMES}, "reference": outputs("reference"),
            "expected": outputs("expected")}  # fmt: skip


def run(runner: Any, bundle_dir: Path, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Run the golden vectors through ``runner``; judge against reference and expected outputs.

    Returns a report with ``passed`` and one entry per check (``vs_reference``, ``vs_expected``).
    """
    g = read(bundle_dir, manifest)
    got = runner.run(g["inputs"])
    cand = {k: got[k] for k in P.SCALAR_OUTPUTS} | P.saliency_marginals(got["saliency"])
    thr = float(manifest.get("decision_threshold", 0.5))
    meta = manifest["golden"]
    checks: dict[str, Any] = {
        "vs_reference": P.judged(
            P.compare(g["reference"], cand, thr), P.Tolerance.from_dict(meta["tolerance_reference"])
        )
    }
    if g["expected"] is not None and meta.get("tolerance_expected"):
        checks["vs_expected"] = P.judged(
            P.compare(g["expected"], cand, thr), P.Tolerance.from_dict(meta["tolerance_expected"])
        )
    failures = [f"{name}: {f}" for name, c in checks.items() for f in c["failures"]]
    return {"windows": g["n"], "checks": checks, "passed": not failures, "failures": failures}
