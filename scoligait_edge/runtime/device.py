"""Which CPU class this process runs on (standard library only: used on phones and in qemu lanes).

The INT8 device classes (see ``scoligait_edge.export.recipes``) are decided by how the integer
GEMM kernels accumulate: ``x86-vnni`` (AVX-512 VNNI or AVX-VNNI: int32 dot products),
``x86-avx2`` (x86 without VNNI, AVX-512 included: int16 pair sums that can saturate), ``arm64``
(NEON / dot-product kernels). Under qemu user mode the emulated CPU's flags are what count.
"""

from __future__ import annotations

import functools
import platform
from typing import Any

#: Flags that decide which kernels ONNX Runtime (MLAS), oneDNN and XNNPACK pick.
ISA_FLAGS = (
    "sse4_1",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "asimd",
    "asimddp",
    "i8mm",
    "sve",
)


#: numpy's own CPUID probe → /proc/cpuinfo flag names. Under qemu user mode /proc/cpuinfo is the
#: host's, while CPUID (what MLAS, oneDNN and numpy dispatch on) is the emulated CPU's.
_NUMPY_FLAGS = {
    "AVX": "avx",
    "AVX2": "avx2",
    "FMA3": "fma",
    "F16C": "f16c",
    "AVX512F": "avx512f",
    "AVX512BW": "avx512bw",
    "AVX512VL": "avx512vl",
    "AVX512VNNI": "avx512_vnni",
    "AVX512BF16": "avx512_bf16",
}


def _cpuid_view(flags: frozenset[str]) -> frozenset[str]:
    """``flags`` limited to what CPUID reports to this process (numpy's probe), on x86."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feat
    except ImportError:
        return flags
    if "AVX2" not in feat:  # not x86
        return flags
    out = {f for f in flags if not any(f == v and not feat.get(k) for k, v in _NUMPY_FLAGS.items())}
    if "avx512f" in flags and not feat.get("AVX512F"):  # an emulated or capped CPU below the host's:
        out = {f for f in out if not f.startswith(("avx512", "amx")) and f != "avx_vnni"}  # drop the rest
    return frozenset(out)


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> tuple[str, frozenset[str]]:
    model, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, val = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model", "Hardware") and not model:
                    model = val.strip()
                elif key in ("flags", "Features") and not flags:
                    flags = frozenset(val.split())
    except OSError:
        pass
    return model or platform.processor() or "unknown", _cpuid_view(flags)


def device_class(flags: frozenset[str] | set[str] | None = None, machine: str | None = None) -> str:
    """``x86-vnni`` | ``x86-avx2`` | ``arm64`` | ``other`` for this CPU (or the given flags)."""
    fl = _cpuinfo()[1] if flags is None else frozenset(flags)
    m = (machine or platform.machine()).lower()
    if m in ("aarch64", "arm64") or "asimd" in fl:
        return "arm64"
    if "avx512_vnni" in fl or "avx_vnni" in fl:
        return "x86-vnni"
    if "avx2" in fl:
        return "x86-avx2"
    return "other"


def cpu_info() -> dict[str, Any]:
    """CPU model, INT8 device class and the ISA flags that matter (JSON-ready)."""
    model, flags = _cpuinfo()
    return {
        "cpu_model": model,
        "machine": platform.machine(),
        "device_class": device_class(),
        "isa_flags": [f for f in ISA_FLAGS if f in flags],
        "python": platform.python_version(),
    }


def describe() -> str:
    """One line: ``Intel(R) Xeon(R) … (x86-vnni: avx2 avx512f avx512_vnni amx_int8)``."""
    info = cpu_info()
    return f"{info['cpu_model']} ({info['device_class']}: {' '.join(info['isa_flags']) or 'no SIMD flags'})"
