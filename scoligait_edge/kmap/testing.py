"""A tiny deterministic walking skeleton for kmap tests and benchmarks.

Not the ScoliGait-Synth generator (that lives in :mod:`scoligait_edge.data`); just enough
gait-like motion (arm swing, stepping, trunk sway, tilts) to exercise every feature.
"""

from __future__ import annotations

import numpy as np

# COCO-17 rest pose, torso length 1, mid-hip at the origin, image y down.
_REST = np.array(
    [
        [0.0, -1.45], [-0.08, -1.5], [0.08, -1.5], [-0.16, -1.47], [0.16, -1.47],
        [-0.42, -1.0], [0.42, -1.0], [-0.48, -0.55], [0.48, -0.55], [-0.5, -0.12], [0.5, -0.12],
        [-0.2, 0.0], [0.2, 0.0], [-0.22, 0.9], [0.22, 0.9], [-0.23, 1.8], [0.23, 1.8],
    ]
)  # fmt: skip


def toy_walk(
    frames: int,
    seed: int = 0,
    *,
    missing: float = 0.0,
    noise: float = 0.01,
    tilt: float = 0.0,
    scale: float = 120.0,
    offset: tuple[float, float] = (320.0, 240.0),
) -> np.ndarray:
    """Return float32 ``[frames, 17, 3]`` COCO-17 pose of a walking figure in pixels.

    ``missing`` is the probability that a joint gets confidence 0 in a frame; ``tilt``
    lowers the right shoulder (torso units), a scoliosis-like asymmetry.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float64)[:, None]
    phase = 2 * np.pi * t / rng.uniform(28, 36) + rng.uniform(0, 2 * np.pi)
    xy = np.repeat(_REST[None], frames, axis=0).copy()
    swing = rng.uniform(0.08, 0.2) * np.sin(phase)
    xy[:, [7, 9], 1] += swing * np.array([0.5, 1.0])
    xy[:, [8, 10], 1] -= swing * np.array([0.5, 1.0]) * rng.uniform(0.6, 1.0)
    step = rng.uniform(0.05, 0.15) * np.sin(phase)
    xy[:, [13, 15], 1] -= np.maximum(step, 0) * np.array([1.0, 1.5])
    xy[:, [14, 16], 1] -= np.maximum(-step, 0) * np.array([1.0, 1.5])
    xy[:, :11, 0] += 0.03 * np.sin(phase / 2)  # trunk sway
    xy[:, [6, 8, 10], 1] += tilt
    xy[:, 11, 1] += 0.02 * np.sin(phase[:, 0])
    xy += rng.normal(0.0, noise, xy.shape)
    zoom = scale * (1.0 + 0.15 * t / max(frames, 1))  # walking towards the camera
    pose = np.empty((frames, 17, 3), np.float32)
    pose[..., 0] = xy[..., 0] * zoom + offset[0] + 0.5 * t
    pose[..., 1] = xy[..., 1] * zoom + offset[1]
    pose[..., 2] = rng.uniform(0.6, 1.0, (frames, 17))
    if missing > 0:
        pose[..., 2][rng.random((frames, 17)) < missing] = 0.0
    return pose
