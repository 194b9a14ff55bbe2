"""The 238-feature catalog of the kinematic knowledge map: index, machine name, clinical label, domain.

The catalog is the single source of truth for the feature layout; the computation in
:mod:`scoligait_edge.kmap.signals` reads its joint-index tables from here. Run
``python -m scoligait_edge.kmap --markdown`` to regenerate ``docs/kmap_catalog.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from dataclasses import dataclass

from scoligait_edge.pose.coco import COCO_JOINTS

#: Bump when a feature's *formula* changes without its name changing (enters the catalog hash).
KMAP_VERSION = 1

N_MOTION, N_SKELETON, N_CROSSCORR = 140, 32, 66
N_FEATURES = N_MOTION + N_SKELETON + N_CROSSCORR
DOMAINS: dict[str, slice] = {
    "motion": slice(0, N_MOTION),
    "skeleton": slice(N_MOTION, N_MOTION + N_SKELETON),
    "crosscorr": slice(N_MOTION + N_SKELETON, N_FEATURES),
}


@dataclass(frozen=True)
class Feature:
    """One column of the knowledge map."""

    index: int
    name: str
    label: str
    domain: str


def _pretty(joint: str) -> str:
    return joint.replace("_", " ").capitalize()


# --------------------------------------------------------------------------- joint tables
# Symmetric (left, right) joint pairs for the motion-space pair features.
SYM_PAIRS: tuple[tuple[str, int, int], ...] = (
    ("eye", 1, 2),
    ("ear", 3, 4),
    ("shoulder", 5, 6),
    ("elbow", 7, 8),
    ("wrist", 9, 10),
    ("hip", 11, 12),
    ("knee", 13, 14),
    ("ankle", 15, 16),
)
# Segments (a, b) whose length (torso units) is a self-skeleton feature.
SEGMENTS: tuple[tuple[str, str, int, int], ...] = (
    ("left_upper_arm_length", "Left upper-arm length", 5, 7),
    ("right_upper_arm_length", "Right upper-arm length", 6, 8),
    ("left_forearm_length", "Left forearm length", 7, 9),
    ("right_forearm_length", "Right forearm length", 8, 10),
    ("left_thigh_length", "Left thigh length", 11, 13),
    ("right_thigh_length", "Right thigh length", 12, 14),
    ("left_shank_length", "Left shank length", 13, 15),
    ("right_shank_length", "Right shank length", 14, 16),
    ("shoulder_width", "Shoulder width", 5, 6),
    ("hip_width", "Hip width", 11, 12),
    ("left_trunk_side_length", "Left trunk-side length (shoulder to hip)", 5, 11),
    ("right_trunk_side_length", "Right trunk-side length (shoulder to hip)", 6, 12),
)
# Interior angles (a, vertex, c) in degrees.
ANGLES: tuple[tuple[str, str, int, int, int], ...] = (
    ("left_elbow_angle", "Left elbow angle", 5, 7, 9),
    ("right_elbow_angle", "Right elbow angle", 6, 8, 10),
    ("left_knee_angle", "Left knee angle", 11, 13, 15),
    ("right_knee_angle", "Right knee angle", 12, 14, 16),
    ("left_shoulder_angle", "Left shoulder angle (trunk side to upper arm)", 11, 5, 7),
    ("right_shoulder_angle", "Right shoulder angle (trunk side to upper arm)", 12, 6, 8),
    ("left_hip_angle", "Left hip angle (trunk side to thigh)", 5, 11, 13),
    ("right_hip_angle", "Right hip angle (trunk side to thigh)", 6, 12, 14),
)
# Left/right segment-length symmetry indices (L - R) / (L + R): pairs of SEGMENTS rows.
SYMMETRY: tuple[tuple[str, str, int, int], ...] = (
    ("upper_arm_length_symmetry", "Upper-arm length symmetry (L−R)/(L+R)", 0, 1),
    ("forearm_length_symmetry", "Forearm length symmetry (L−R)/(L+R)", 2, 3),
    ("thigh_length_symmetry", "Thigh length symmetry (L−R)/(L+R)", 4, 5),
    ("shank_length_symmetry", "Shank length symmetry (L−R)/(L+R)", 6, 7),
)
# Line tilts (left joint, right joint) in degrees, positive when the left side is higher.
TILTS: tuple[tuple[str, str, int, int], ...] = (
    ("shoulder_tilt", "Shoulder-line tilt", 5, 6),
    ("pelvic_tilt", "Pelvic tilt", 11, 12),
    ("knee_line_tilt", "Knee-line tilt", 13, 14),
    ("ankle_line_tilt", "Ankle-line tilt", 15, 16),
    ("ear_line_tilt", "Head (ear-line) tilt", 3, 4),
)
SKELETON_EXTRA: tuple[tuple[str, str], ...] = (
    ("trunk_lean_angle", "Trunk lateral lean angle (mid-hip to mid-shoulder vs vertical)"),
    ("shoulder_hip_width_ratio", "Shoulder-to-hip width ratio"),
    ("torso_length_ratio", "Torso length vs running body scale"),
)
# The 12 kinematic signals whose pairwise sliding correlations form the cross-correlation domain.
SIGNAL_SPECS: tuple[tuple[str, str], ...] = (
    ("left_wrist_height", "Left wrist height"),
    ("right_wrist_height", "Right wrist height"),
    ("left_elbow_angle", "Left elbow angle"),
    ("right_elbow_angle", "Right elbow angle"),
    ("left_knee_height", "Left knee height"),
    ("right_knee_height", "Right knee height"),
    ("left_ankle_height", "Left ankle height"),
    ("right_ankle_height", "Right ankle height"),
    ("shoulder_tilt", "Shoulder-line tilt"),
    ("pelvic_tilt", "Pelvic tilt"),
    ("trunk_lateral_lean", "Trunk lateral lean"),
    ("head_lateral_offset", "Head lateral offset"),
)
SIGNALS: tuple[str, ...] = tuple(name for name, _ in SIGNAL_SPECS)
SIGNAL_LABELS: tuple[str, ...] = tuple(label for _, label in SIGNAL_SPECS)
#: (i, j) signal index pairs in catalog order (i < j, lexicographic).
SIGNAL_PAIRS: tuple[tuple[int, int], ...] = tuple(itertools.combinations(range(len(SIGNALS)), 2))


def _motion() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    axes = (("x", "lateral position"), ("y", "vertical position"))
    for j in COCO_JOINTS:
        rows += [(f"pos_{j}_{a}", f"{_pretty(j)} {text}") for a, text in axes]
    for j in COCO_JOINTS:
        rows += [
            (f"vel_{j}_{a}", f"{_pretty(j)} {'lateral' if a == 'x' else 'vertical'} velocity")
            for a, _ in axes
        ]
    for j in COCO_JOINTS:
        rows += [
            (f"acc_{j}_{a}", f"{_pretty(j)} {'lateral' if a == 'x' else 'vertical'} acceleration")
            for a, _ in axes
        ]
    rows += [(f"speed_{j}", f"{_pretty(j)} speed") for j in COCO_JOINTS]
    for part, _, _ in SYM_PAIRS:
        rows.append((f"{part}_pair_width", f"{part.capitalize()} pair lateral width"))
        rows.append((f"{part}_pair_height_diff", f"{part.capitalize()} height difference (left − right)"))
    rows += [
        ("root_vel_x", "Body (mid-hip) lateral velocity"),
        ("root_vel_y", "Body (mid-hip) vertical velocity"),
        ("mean_joint_speed", "Mean joint speed"),
        ("wrist_speed_asymmetry", "Wrist speed asymmetry (left − right), arm-swing asymmetry"),
        ("ankle_speed_asymmetry", "Ankle speed asymmetry (left − right), step asymmetry"),
    ]
    return rows


def _skeleton() -> list[tuple[str, str]]:
    rows = [(n, lab) for n, lab, *_ in SEGMENTS]
    rows += [(n, lab) for n, lab, *_ in ANGLES]
    rows += [(n, lab) for n, lab, *_ in SYMMETRY]
    rows += [(n, lab) for n, lab, *_ in TILTS]
    rows += list(SKELETON_EXTRA)
    return rows


def _crosscorr() -> list[tuple[str, str]]:
    return [
        (f"xcorr_{SIGNALS[i]}__{SIGNALS[j]}", f"{SIGNAL_LABELS[i]} vs {SIGNAL_LABELS[j].lower()} correlation")
        for i, j in SIGNAL_PAIRS
    ]


def _build() -> tuple[Feature, ...]:
    feats: list[Feature] = []
    for domain, rows in (("motion", _motion()), ("skeleton", _skeleton()), ("crosscorr", _crosscorr())):
        for name, label in rows:
            feats.append(Feature(len(feats), name, label, domain))
    return tuple(feats)


CATALOG: tuple[Feature, ...] = _build()
NAMES: tuple[str, ...] = tuple(f.name for f in CATALOG)
_INDEX = {f.name: f.index for f in CATALOG}

assert len(CATALOG) == N_FEATURES and len(_INDEX) == N_FEATURES, "catalog layout is inconsistent"
for _dom, _sl in DOMAINS.items():
    assert all(f.domain == _dom for f in CATALOG[_sl]), _dom


def feature_index(name: str) -> int:
    """Column index of a feature by machine name (``KeyError`` if unknown)."""
    return _INDEX[name]


def catalog_json() -> str:
    """Canonical JSON of the catalog (what :func:`catalog_hash` hashes)."""
    payload = {
        "kmap_version": KMAP_VERSION,
        "features": [[f.index, f.name, f.label, f.domain] for f in CATALOG],
    }
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":"), sort_keys=True)


def catalog_hash() -> str:
    """Hex sha256 of :func:`catalog_json` — identifies the feature layout in bundles and on device."""
    return hashlib.sha256(catalog_json().encode("ascii")).hexdigest()


# --------------------------------------------------------------------------- documentation
_DOC_INTRO = """\
# Kinematic knowledge map: feature catalog

Generated by `python -m scoligait_edge.kmap --markdown > docs/kmap_catalog.md`;
do not edit by hand. Catalog version {version}, sha256 `{hash}` (`scoligait_edge.kmap.catalog_hash()`:
sha256 of the ASCII JSON `{{"features": [[index, name, label, domain], ...], "kmap_version": {version}}}`,
keys sorted, separators `,` and `:`).

`knowledge_map(pose[T, 17, 3], fps) -> float32 [T, 238]` (+ bool validity mask) turns a COCO-17
pose clip into 238 features per frame: **motion space** 0–139, **self-skeleton** 140–171,
**signal cross-correlation** 172–237. `StreamingKnowledgeMap(window=96, hop=16)` produces the same
numbers from pushed frames.

## Coordinates

- A joint is *observed* when x, y and confidence are finite and confidence ≥ {min_conf}.
- Origin: mid-hip (both hips observed in the frame; otherwise every joint of that frame is unobserved).
- x grows to the image right, **y grows upward** (image y is flipped). Scoliosis1K views (walking
  towards/away from the camera) make x the lateral and y the vertical axis.
- Unit: a causal, robust running **body scale** — the torso length |mid-shoulder − mid-hip| tracked
  as an exponential moving average of its logarithm (weight max(1/n, {alpha}) on the n-th accepted
  frame; after {warmup} frames each update is clipped to ±{clip} in log units, so one bad frame moves
  the scale by at most {max_step:.1%}). A frame's torso updates the scale only when all four torso
  joints are observed and the torso is longer than {deg_torso:g} × the largest |x| or |y| offset of
  an observed joint from the mid-hip. Before the first accepted torso nothing is observed.
- Normalised joints farther than {max_coord:g} torso lengths from the mid-hip count as unobserved.
- Angles and tilts are in degrees. Tilts are `atan2(y_left − y_right, |x_left − x_right|)`:
  positive when the left side is higher, independent of walking direction.

## Causality, units, masks

- Every value at frame t uses frames ≤ t only (tested: changing the future never changes the past).
- Velocities and accelerations are backward differences multiplied by `fps`, i.e. **per second**,
  so clips at other frame rates give comparable units. Windows (the {win}-frame correlation window,
  the scale average) count **frames**; the pipeline's clips are 30 Hz.
- The mask says whether a value was computed from observed data at that frame. Positions,
  pair features and self-skeleton features **hold their last valid value** while invalid
  (0 before the first); derivative features and correlations are **0** while invalid.
  Values are always finite (never NaN/inf).
- Cross-correlations: Pearson correlation over the last {win} frames (t−{winm1}…t) of the frames
  where both signals are observed, from float64 running sums (add the entering frame, subtract the
  leaving one; signals are centred on their first observed value). Valid when at least
  {min_n} frames are paired and both variances exceed {var_eps:g}; otherwise 0.

## Streaming

`StreamingKnowledgeMap.push(frame)` stores the frame in O(1); every `hop` frames (once `window` are
in) it advances the same vectorised state machine the offline map uses over the ≤ `hop` new frames
only (running correlation sums, previous-frame state, held values, body scale) and returns the
last `window` rows: `knowledge_map(clip)[t−window+1 : t+1]` to ≤ 1e-5. No frame is processed twice.

## API and files

```python
from scoligait_edge.kmap import CATALOG, DOMAINS, SIGNALS, catalog_hash, knowledge_map, StreamingKnowledgeMap
kmap, mask = knowledge_map(pose, fps=30.0, return_mask=True)  # float32 [T, 238], bool [T, 238]
stream = StreamingKnowledgeMap(window=96, hop=16, fps=30.0)
window = stream.push(frame)  # None, or float32 [96, 238]; stream.last_mask is its mask
from scoligait_edge.kmap.render import save_heatmap  # PNG, optional saliency overlay
```

`scoligait-edge kmap CLIP --out MAP.npy [--png MAP.png] [--force]` writes the map as `MAP.npy`
and its mask beside it as `MAP.mask.npy`; with `--out MAP.npz` one file holds `kmap`, `mask`,
`fps` and `catalog_hash`. Existing files are never replaced without `--force`; writes are atomic.

## Signals used for cross-correlation

| # | name | label | definition |
|---|---|---|---|
{signals}

## Features

| index | name | label | domain |
|---|---|---|---|
"""

_SIGNAL_DEFS = (
    "left wrist y − left shoulder y (torso units, up +)",
    "right wrist y − right shoulder y (torso units)",
    "= `left_elbow_angle`",
    "= `right_elbow_angle`",
    "left knee y (torso units, mid-hip origin)",
    "right knee y",
    "left ankle y",
    "right ankle y",
    "= `shoulder_tilt`",
    "= `pelvic_tilt`",
    "mid-shoulder x (torso units, mid-hip origin)",
    "head x − mid-shoulder x (head = mid-ear if both ears seen, else nose)",
)


def catalog_markdown() -> str:
    """The catalog as a Markdown document (docs/kmap_catalog.md)."""
    from scoligait_edge.kmap import signals as s  # local: signals imports this module

    sig_rows = "\n".join(
        f"| {i} | `{n}` | {lab} | {d} |"
        for i, ((n, lab), d) in enumerate(zip(SIGNAL_SPECS, _SIGNAL_DEFS, strict=True))
    )
    import math

    text = _DOC_INTRO.format(
        version=KMAP_VERSION,
        hash=catalog_hash(),
        min_conf=s.MIN_CONFIDENCE,
        alpha=f"1/{round(1 / s.SCALE_MIN_ALPHA)}",
        warmup=s.SCALE_WARMUP,
        clip=s.SCALE_CLIP,
        max_step=math.exp(s.SCALE_CLIP * s.SCALE_MIN_ALPHA) - 1,
        deg_torso=s.MIN_TORSO_FRACTION,
        max_coord=s.MAX_COORD,
        win=s.CORR_WINDOW,
        winm1=s.CORR_WINDOW - 1,
        min_n=s.CORR_MIN_FRAMES,
        var_eps=s.CORR_VAR_EPS,
        signals=sig_rows,
    )
    rows = "\n".join(f"| {f.index} | `{f.name}` | {f.label} | {f.domain} |" for f in CATALOG)
    return text + rows + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m scoligait_edge.kmap [--markdown | --hash]``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true", help="print the catalog as Markdown")
    ap.add_argument("--hash", action="store_true", help="print the catalog hash")
    args = ap.parse_args(argv)
    if args.hash:
        print(catalog_hash())
    elif args.markdown:
        sys.stdout.write(catalog_markdown())
    else:
        for f in CATALOG:
            print(f"{f.index}\t{f.domain}\t{f.name}\t{f.label}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
