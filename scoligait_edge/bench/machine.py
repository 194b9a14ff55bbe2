"""What the numbers were measured on: CPU model, ISA flags, cores, runtime versions."""

from __future__ import annotations

import importlib.metadata as md
import os
import platform
from functools import lru_cache

#: ISA flags that decide which kernels ONNX Runtime / OpenVINO / oneDNN can use.
INTERESTING_FLAGS = (
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "neon",
    "asimddp",
)

#: Distributions whose versions change latency or parity.
RUNTIMES = (
    "scoligait-edge",
    "numpy",
    "torch",
    "onnx",
    "onnxruntime",
    "openvino",
    "nncf",
    "executorch",
    "ai-edge-litert",
    "mediapipe",
    "opencv-contrib-python",
    "threadpoolctl",
)


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _cpu_flags_from_proc() -> tuple[str, set[str]]:
    model, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = val.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = set(val.split())
    except OSError:
        pass
    return model, flags


@lru_cache(maxsize=1)
def machine_info() -> dict:
    """A JSON-ready description of this machine (cached: py-cpuinfo takes about a second)."""
    import psutil

    try:
        import cpuinfo

        info = cpuinfo.get_cpu_info()
        model = info.get("brand_raw") or ""
        flags = set(info.get("flags", []))
        hz = info.get("hz_advertised_friendly")
    except Exception:  # py-cpuinfo shells out on some platforms; never let it break a benchmark
        model, flags, hz = "", set(), None
    pmodel, pflags = _cpu_flags_from_proc()
    model = model or pmodel or platform.processor() or "unknown"
    flags |= pflags
    norm = {f.replace("_", "") for f in flags}
    present = [f for f in INTERESTING_FLAGS if f in flags or f.replace("_", "") in norm]
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        affinity = os.cpu_count() or 1
    return {
        "cpu_model": model,
        "cpu_hz": hz,
        "isa_flags": present,
        "avx512_vnni": "avx512_vnni" in present,
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "usable_cores": affinity,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
        "versions": {d: v for d in RUNTIMES if (v := _version(d))},
    }


def load_average() -> list[float] | None:
    """1/5/15-minute load averages at the time of the call (context for a noisy run)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None
