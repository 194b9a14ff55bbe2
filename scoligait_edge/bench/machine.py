"""What the numbers were measured on: CPU model, ISA flags, CPU class, cores, runtime versions.

**CPU class** (``cpu_class``): the ISA tier that decides which kernels ONNX Runtime (MLAS),
OpenVINO (oneDNN) and XNNPACK pick from CPUID — ``x86-avx2``, ``x86-avx512-vnni``, ``x86-amx``,
``arm64-dotprod`` … (``isa_class``) — plus the CPU vendor (``amd``, ``intel``, ``arm`` …), e.g.
``x86-avx2-amd`` (AMD EPYC Zen 3) or ``x86-amx-intel`` (Xeon Sapphire Rapids). Latency *ratios*
between workloads move with both (AVX-512 and AMX speed up some rows far more than others, and
two vendors' cores of one ISA tier are different microarchitectures), so the benchmark gate
keeps one baseline per CPU class and compares across classes only with widened tolerances.
"""

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
    "asimd",
    "asimddp",
    "i8mm",
    "sve",
)

#: ISA tiers per architecture, least to most capable (the kernels' dispatch order). The distance
#: between two tiers on one ladder is what "nearest class" means for the gate's fallback.
ISA_LADDER: dict[str, tuple[str, ...]] = {
    "x86": ("x86-sse", "x86-avx2", "x86-avx-vnni", "x86-avx512", "x86-avx512-vnni", "x86-amx"),
    "arm64": ("arm64", "arm64-dotprod", "arm64-i8mm"),
}
UNKNOWN_CLASS = "unknown"
#: ``/proc/cpuinfo`` vendor ids and ARM ``CPU implementer`` codes → the vendor part of a CPU class.
VENDORS = {
    "genuineintel": "intel",
    "authenticamd": "amd",
    "hygongenuine": "hygon",
    "0x41": "arm",
    "0x42": "broadcom",
    "0x48": "hisilicon",
    "0x4e": "nvidia",
    "0x51": "qualcomm",
    "0x61": "apple",
    "0xc0": "ampere",
}
KNOWN_VENDORS = frozenset(VENDORS.values())

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
    info = _proc_cpuinfo()
    return info.get("model name", ""), set((info.get("flags") or info.get("Features") or "").split())


def _proc_cpuinfo() -> dict[str, str]:
    """The first processor's ``key: value`` lines of ``/proc/cpuinfo`` (empty where there is none)."""
    out: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, sep, val = line.partition(":")
                key = key.strip()
                if not sep:
                    if out:  # blank line: the first processor's block is complete
                        break
                    continue
                out.setdefault(key, val.strip())
    except OSError:
        pass
    return out


def _arch(machine: str) -> str:
    m = (machine or "").lower()
    if m in ("x86_64", "amd64", "i386", "i686", "x86"):
        return "x86"
    if m in ("aarch64", "arm64", "armv8", "armv8l"):
        return "arm64"
    return m


def isa_class(flags: object, machine: str = "x86_64") -> str:
    """The ISA tier of a CPU from its flags: ``x86-avx2``, ``x86-avx512-vnni``, ``x86-amx``, ``arm64`` …

    ``x86-amx`` = AMX-INT8 (Sapphire Rapids and later); ``x86-avx512-vnni`` = AVX-512 with VNNI
    (Zen 4, Ice/Cascade Lake); ``x86-avx512`` = AVX-512 without VNNI (Skylake-SP); ``x86-avx-vnni``
    = AVX2 + VEX VNNI without AVX-512 (Alder Lake); ``x86-avx2`` = AVX2 (Zen 2/3, Haswell);
    ``x86-sse`` = older. ARM: ``arm64-i8mm`` (SMMLA), ``arm64-dotprod`` (SDOT), ``arm64``.
    """
    norm = {str(f).lower().replace("_", "") for f in (flags or [])}  # py-cpuinfo drops the underscores
    arch = _arch(machine)
    if arch == "x86":
        if "amxint8" in norm:
            return "x86-amx"
        if "avx512vnni" in norm:
            return "x86-avx512-vnni"
        if "avx512f" in norm or "avx512bw" in norm:
            return "x86-avx512"
        if "avxvnni" in norm:
            return "x86-avx-vnni"
        if "avx2" in norm:
            return "x86-avx2"
        return "x86-sse"
    if arch == "arm64":
        if "i8mm" in norm:
            return "arm64-i8mm"
        if "asimddp" in norm:
            return "arm64-dotprod"
        return "arm64"
    return f"{arch}" if arch else UNKNOWN_CLASS


def vendor_of(machine: dict) -> str:
    """``amd``/``intel``/``arm``/… from a machine description (``cpu_vendor``, else the model name)."""
    v = str(machine.get("cpu_vendor") or "").lower()
    if v:
        return VENDORS.get(v, v)
    model = str(machine.get("cpu_model") or "").lower()
    for word, vendor in (
        ("amd", "amd"),
        ("epyc", "amd"),
        ("ryzen", "amd"),
        ("intel", "intel"),
        ("xeon", "intel"),
    ):
        if word in model:
            return vendor
    return ""


def cpu_class(machine: dict | None = None) -> str:
    """ISA tier + vendor, e.g. ``x86-avx2-amd``: the key the benchmark gate's baselines are stored by.

    ``machine`` is a report's ``machine`` dict (``None``: this machine). A report with no ISA
    flags (e.g. a hand-made one) is ``unknown``.
    """
    m = machine_info() if machine is None else machine
    if m.get("cpu_class"):
        return str(m["cpu_class"])
    if not m.get("isa_flags") and not m.get("machine"):
        return UNKNOWN_CLASS
    isa = isa_class(m.get("isa_flags") or [], m.get("machine") or "x86_64")
    vendor = vendor_of(m)
    return f"{isa}-{vendor}" if vendor else isa


def split_class(name: str) -> tuple[str, str]:
    """``x86-avx512-vnni-amd`` → (``x86-avx512-vnni``, ``amd``); unknown vendors stay in the ISA part."""
    head, _, tail = name.rpartition("-")
    if head and tail in KNOWN_VENDORS:
        return head, tail
    return name, ""


def class_distance(a: str, b: str) -> float:
    """How far apart two CPU classes are: ISA tiers apart on one ladder, +0.5 for another vendor.

    0 = the same class. Another architecture (or an unknown class) is ≥ 100: still comparable
    under the cross-class rules, but only when nothing nearer exists.
    """
    (ia, va), (ib, vb) = split_class(a), split_class(b)
    vendor = 0.0 if va == vb else 0.5
    for ladder in ISA_LADDER.values():
        if ia in ladder and ib in ladder:
            return abs(ladder.index(ia) - ladder.index(ib)) + vendor
    return (0.0 if ia == ib else 100.0) + vendor


@lru_cache(maxsize=1)
def machine_info() -> dict:
    """A JSON-ready description of this machine (cached: py-cpuinfo takes about a second)."""
    import psutil

    try:
        import cpuinfo

        info = cpuinfo.get_cpu_info()
    except Exception:  # py-cpuinfo shells out on some platforms; never let it break a benchmark
        info = {}
    model = info.get("brand_raw") or ""
    flags = set(info.get("flags", []))
    hz = info.get("hz_advertised_friendly")
    pmodel, pflags = _cpu_flags_from_proc()
    model = model or pmodel or platform.processor() or "unknown"
    flags |= pflags
    norm = {f.replace("_", "") for f in flags}
    present = [f for f in INTERESTING_FLAGS if f in flags or f.replace("_", "") in norm]
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        affinity = os.cpu_count() or 1
    proc = _proc_cpuinfo()
    raw = str(info.get("vendor_id_raw") or proc.get("vendor_id") or proc.get("CPU implementer") or "")
    vendor = VENDORS.get(raw.strip().lower(), "") or vendor_of({"cpu_model": model})
    isa = isa_class(present, platform.machine())
    return {
        "cpu_model": model,
        "cpu_vendor": vendor or None,
        "cpu_family": proc.get("cpu family") or proc.get("CPU part"),
        "cpu_model_number": proc.get("model") or proc.get("CPU variant"),
        "isa_class": isa,
        "cpu_class": f"{isa}-{vendor}" if vendor else isa,
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
