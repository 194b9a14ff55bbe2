"""The I/O contract every model, exported artifact, calibration set and runner shares."""

from __future__ import annotations

WINDOW = 96  #: frames per knowledge-map window (static in every exported graph)
N_FEATURES = 238  #: knowledge-map features (motion 140 + self-skeleton 32 + cross-correlation 66)
SIL_H, SIL_W = 64, 44  #: silhouette frame size (Scoliosis1K style)
TEXT_DIM = 384  #: all-MiniLM-L6-v2 embedding width
FPS = 30.0

#: Exported-model inputs, in order: name -> (shape with "batch" symbolic, dtype)
INPUTS: dict[str, tuple[tuple[str | int, ...], str]] = {
    "kmap": (("batch", WINDOW, N_FEATURES), "float32"),  # raw (unnormalised) knowledge map
    "silhouette": (("batch", WINDOW, SIL_H, SIL_W), "float32"),  # masks scaled to [0, 1]
    "prompt_id": (("batch",), "int64"),  # index into the clinical-prompt template table
}
#: Exported-model outputs, in order.
OUTPUTS: dict[str, tuple[tuple[str | int, ...], str]] = {
    "referral_logit": (("batch",), "float32"),  # Cobb >= 10 degrees logit
    "referral_prob": (("batch",), "float32"),  # sigmoid(referral_logit)
    "cobb_angle": (("batch",), "float32"),  # regressed Cobb angle, degrees
    "saliency": (("batch", WINDOW, N_FEATURES), "float32"),  # attention mapped onto the map
}
INPUT_NAMES = tuple(INPUTS)
OUTPUT_NAMES = tuple(OUTPUTS)
REFERRAL_COBB_DEG = 10.0
