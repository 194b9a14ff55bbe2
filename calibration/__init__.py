"""INT8 calibration sets and backend readers (imported as scoligait_edge.calibration)."""

from __future__ import annotations

from scoligait_edge.calibration.dataset import (
    MIN_SAMPLES,
    CalibrationSet,
    build_calibration_set,
    content_hash,
    from_arrays,
    load_calibration,
    save_calibration,
    stratified_indices,
    validate_arrays,
)

__all__ = [
    "MIN_SAMPLES",
    "CalibrationSet",
    "build_calibration_set",
    "content_hash",
    "from_arrays",
    "load_calibration",
    "save_calibration",
    "stratified_indices",
    "validate_arrays",
]
