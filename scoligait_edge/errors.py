"""Typed, user-facing errors: every failure says its cause and a remedy in one line."""

from __future__ import annotations


class ScoliGaitError(Exception):
    """Base class of every user-facing failure.

    ``str(err)`` is a single line ``"<cause> — <remedy>"`` that the CLI prints as-is.
    """

    def __init__(self, cause: str, remedy: str = "") -> None:
        self.cause = " ".join(str(cause).split())
        self.remedy = " ".join(str(remedy).split())
        super().__init__(self.line())

    def line(self) -> str:
        return f"{self.cause} — {self.remedy}" if self.remedy else self.cause


class InputFileError(ScoliGaitError):
    """A user file (video, pose, clip, calibration set) is missing, unreadable or malformed."""


class UnsafeFileError(InputFileError):
    """A file would require executing untrusted code to load (e.g. a pickle with globals)."""


class PoseError(ScoliGaitError):
    """Pose data is unusable (no person, wrong shape, all joints missing)."""


class ShapeError(ScoliGaitError):
    """An array has the wrong shape or dtype for the step it is passed to."""


class DatasetError(ScoliGaitError):
    """A dataset index or split is invalid (e.g. a subject leaks across splits)."""


class ModelError(ScoliGaitError):
    """A checkpoint or model config is missing, mismatched or corrupt."""


class ExportError(ScoliGaitError):
    """An export could not be produced."""


class BundleError(ScoliGaitError):
    """A bundle is truncated, tampered with or does not match this toolkit."""


class ParityError(ScoliGaitError):
    """An exported artifact disagrees with the PyTorch reference beyond tolerance."""


class CalibrationError(ScoliGaitError):
    """A calibration set is too small, malformed or contains non-finite values."""


class TargetError(ScoliGaitError):
    """An unknown export target or an option the target does not accept."""


class UnavailableError(ScoliGaitError):
    """A backend/runtime is not installed or cannot run on this machine."""


class OutputExistsError(ScoliGaitError):
    """Refusing to overwrite an existing user file or bundle."""


class BenchmarkRegressionError(ScoliGaitError):
    """A benchmark gate found latency or parity regressions."""
