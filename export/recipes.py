"""INT8 recipes chosen for the *deployment* device class, not the export machine.

An INT8 artifact's integer kernels differ by CPU: on x86 with AVX2, or AVX-512 without VNNI,
ONNX Runtime's U8S8 GEMM (``vpmaddubsw``) adds pairs of uint8 × int8 products into int16 and
saturates when both operands use their full range; VNNI (``vpdpbusd``) and ARM64 dot-product
kernels accumulate straight into int32. A recipe is *portable* when it is correct on every
class (ONNX Runtime's quantization guidance: ``reduce_range`` or U8U8 on non-VNNI x86; NNCF's
``OverflowFix.ENABLE`` for the same reason). The default device class ``any`` always maps to a
portable recipe; a recipe that is correct only on some classes is used only when the user
names that class (``--device x86-vnni``), and the manifest says where it is valid.

Every target row in :mod:`scoligait_edge.export.targets` names its recipe per device class.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

#: Device classes an artifact can be made for (``--device``).
DEVICE_CLASSES: dict[str, str] = {
    "any": "portable: every CPU class (x86 AVX2, AVX-512 with or without VNNI, ARM64) — the default",
    "x86-avx2": "x86-64 with AVX2 but no VNNI (AMD Zen 2/3, older Intel desktops and laptops)",
    "x86-vnni": "x86-64 with AVX-512 VNNI or AVX-VNNI (AMD Zen 4+, Intel Ice Lake / Sapphire Rapids+)",
    "arm64": "ARM64 CPUs: Android phones, Jetson CPU cores, Apple silicon (NEON dot-product kernels)",
    "jetson": "NVIDIA Jetson / CUDA GPUs through TensorRT (explicit Q/DQ)",
}
ALL_CPU_CLASSES = ("x86-avx2", "x86-vnni", "arm64")


@dataclass(frozen=True)
class Int8Recipe:
    """How an INT8 artifact is quantized, and on which device classes its kernels are correct."""

    name: str
    activations: str  #: "uint8" | "int8"
    activation_symmetric: bool
    weights: str  #: "int8" | "uint8"
    weight_symmetric: bool = True
    per_channel: bool = True
    reduce_range: bool = False  #: 7-bit weights (ORT): no int16 saturation in U8S8 pair sums
    overflow_fix: str | None = None  #: NNCF ``OverflowFix`` member name (OpenVINO)
    valid_on: tuple[str, ...] = ALL_CPU_CLASSES  #: device classes whose kernels compute it correctly
    note: str = ""

    @property
    def portable(self) -> bool:
        return set(ALL_CPU_CLASSES) <= set(self.valid_on) or self.valid_on == ("jetson",)

    def as_manifest(self, device: str) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["valid_on"] = list(self.valid_on)
        return {"device_class": device, "portable": self.portable, **d}


# ONNX Runtime (onnx, ort-mobile): QDQ, per-channel symmetric int8 weights, uint8 activations.
ORT_PORTABLE = Int8Recipe(
    "ort-u8s8-reduce-range",
    "uint8",
    False,
    "int8",
    reduce_range=True,
    note="7-bit weights keep U8S8 pair sums inside int16 on AVX2/AVX-512 without VNNI (ORT guidance)",
)
ORT_FULL_RANGE = Int8Recipe(
    "ort-u8s8-full-range",
    "uint8",
    False,
    "int8",
    reduce_range=False,
    valid_on=("x86-vnni", "arm64"),
    note="full-range int8 weights: saturates on x86 without VNNI (vpmaddubsw int16 pair sums)",
)
# NNCF on OpenVINO: FakeQuantize with the overflow fix (7-bit weights) on every layer.
NNCF_PORTABLE = Int8Recipe(
    "nncf-overflow-fix-enable",
    "uint8",
    False,
    "int8",
    overflow_fix="ENABLE",
    note="NNCF OverflowFix.ENABLE: weights use 7 bits everywhere, safe on CPUs without VNNI",
)
NNCF_VNNI = Int8Recipe(
    "nncf-overflow-fix-first-layer",
    "uint8",
    False,
    "int8",
    overflow_fix="FIRST_LAYER",
    valid_on=("x86-vnni", "arm64"),
    note="NNCF default (fix on the first layer only): relies on VNNI / dot-product int32 accumulation",
)
# TensorRT: symmetric int8 Q/DQ everywhere, as TensorRT's explicit quantization wants.
TRT_QDQ = Int8Recipe(
    "tensorrt-int8-symmetric-qdq",
    "int8",
    True,
    "int8",
    valid_on=("jetson",),
    note="explicit Q/DQ (TensorRT >= 10): int8 symmetric activations and per-channel weights",
)
# LiteRT / ExecuTorch: XNNPACK's signed int8 kernels sign-extend to int16 before multiplying.
LITERT_DYNAMIC = Int8Recipe(
    "litert-dynamic-range-int8",
    "float32 (quantized at run time)",
    True,
    "int8",
    note="ai-edge-quantizer dynamic_wi8_afp32 on FULLY_CONNECTED/CONV_2D",
)
XNNPACK_STATIC = Int8Recipe(
    "xnnpack-int8-symmetric",
    "int8",
    False,
    "int8",
    note="PT2E XNNPACKQuantizer, symmetric per-channel weights",
)


def check_device(device: str, allowed: tuple[str, ...]) -> str:
    """Canonical device class or :class:`TargetError` naming the choices."""
    import difflib

    from scoligait_edge.errors import TargetError

    d = str(device).strip().lower().replace("_", "-")
    if d in allowed:
        return d
    close = difflib.get_close_matches(d, list(allowed), n=1, cutoff=0.5)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise TargetError(
        f"unknown or unsupported device class '{device}'", f"{hint}use one of: {', '.join(allowed)}"
    )
