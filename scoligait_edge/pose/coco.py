"""COCO-17 skeleton: joint names, limbs, and the MediaPipe-33 → COCO-17 mapping."""

from __future__ import annotations

COCO_JOINTS: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
N_JOINTS = 17
J = {name: i for i, name in enumerate(COCO_JOINTS)}

#: MediaPipe Pose landmark index for each COCO-17 joint (DESIGN.md §3).
MEDIAPIPE_TO_COCO: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
#: MediaPipe foot landmarks kept as extra channels: left/right heel, left/right foot index.
MEDIAPIPE_EXTRA: tuple[int, ...] = (29, 30, 31, 32)
EXTRA_JOINTS: tuple[str, ...] = ("left_heel", "right_heel", "left_foot_index", "right_foot_index")

#: Limbs of the COCO skeleton (pairs of joint indices), used for drawing and limb lengths.
COCO_LIMBS: tuple[tuple[int, int], ...] = (
    (5, 7), (7, 9), (6, 8), (8, 10),        # arms
    (11, 13), (13, 15), (12, 14), (14, 16),  # legs
    (5, 6), (11, 12), (5, 11), (6, 12),      # torso
    (0, 1), (0, 2), (1, 3), (2, 4),          # head
)  # fmt: skip

#: Left/right mirror permutation (for flipping a skeleton).
FLIP_PERM: tuple[int, ...] = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
