"""Pose model assets: assemble MediaPipe's ``pose_landmarker_full.task`` bundle at set-up and cache it.

mediapipe 1.2.2 (the Tasks API this project uses) ships no model files, and no reachable
registry carries a ``.task`` bundle. The official Apache-2.0 model files
``pose_detection.tflite`` and ``pose_landmark_full.tflite`` ship inside the
``mediapipe==0.10.21`` wheel on PyPI. :func:`setup_assets` downloads that wheel with pip
(set-up time only), extracts the two files, checks their sha256 against the values recorded
below, writes TFLite metadata (input image normalisation, which the Tasks graph requires)
with the flatbuffers schema modules shipped in mediapipe 1.2.2, and zips them into a
``.task`` bundle. At run time nothing is downloaded: :func:`pose_bundle` only finds the
cached bundle or raises :class:`~scoligait_edge.errors.ModelError`.

Cache location (first that applies): ``$SCOLIGAIT_CACHE``; ``<venv>/share/scoligait-edge``
when running inside a virtual environment (so ``make clean`` removes it with the venv);
``$XDG_CACHE_HOME/scoligait-edge`` or ``~/.cache/scoligait-edge``.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scoligait_edge.errors import InputFileError, ModelError, UnavailableError
from scoligait_edge.fileio import atomic_path, sha256_file

SOURCE_PACKAGE = "mediapipe"
SOURCE_VERSION = "0.10.21"
#: Exact wheel fetched (the model files inside are platform-independent).
SOURCE_WHEEL = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
_PIP_PLATFORM_ARGS = (
    "--only-binary=:all:",
    "--platform",
    "manylinux_2_28_x86_64",
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
)

MODEL_VARIANT = "full"
BUNDLE_NAME = f"pose_landmarker_{MODEL_VARIANT}.task"
MANIFEST_NAME = f"pose_landmarker_{MODEL_VARIANT}.json"


@dataclass(frozen=True)
class ModelSource:
    """One official model file: where it is in the wheel, its expected sha256, its bundle name."""

    wheel_path: str
    sha256: str
    bundle_name: str
    metadata_name: str
    mean: float
    std: float


#: Expected sha256 of the official files as shipped in mediapipe-0.10.21 (recorded 2026-11-21).
MODEL_SOURCES: tuple[ModelSource, ...] = (
    ModelSource(
        wheel_path="mediapipe/modules/pose_detection/pose_detection.tflite",
        sha256="9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
        bundle_name="pose_detector.tflite",
        metadata_name="pose_detector",
        mean=127.5,  # image in [-1, 1]
        std=127.5,
    ),
    ModelSource(
        wheel_path="mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        sha256="e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
        bundle_name="pose_landmarks_detector.tflite",
        metadata_name="pose_landmarks_detector",
        mean=0.0,  # image in [0, 1]
        std=255.0,
    ),
)

SETUP_HINT = "run `scoligait-edge setup-assets` (or `make setup`)"
Status = Callable[[str], None]


def cache_dir() -> Path:
    """Directory holding the pose assets (see the module docstring for the search order)."""
    env = os.environ.get("SCOLIGAIT_CACHE")
    if env:
        return Path(env).expanduser()
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "share" / "scoligait-edge"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "scoligait-edge"


def pose_dir(root: Path | None = None) -> Path:
    return (root or cache_dir()) / "pose"


def pose_bundle(root: Path | None = None, verify: bool = True) -> Path:
    """Path of the cached ``.task`` bundle; never downloads.

    Raises :class:`ModelError` when the bundle is missing or (with ``verify``) does not
    match the sha256 recorded when it was assembled.
    """
    d = pose_dir(root)
    bundle, manifest = d / BUNDLE_NAME, d / MANIFEST_NAME
    if not bundle.is_file() or not manifest.is_file():
        raise ModelError(f"pose model bundle not found in {d}", SETUP_HINT)
    if verify:
        expected = _read_manifest(manifest).get("bundle_sha256")
        if expected != sha256_file(bundle):
            raise ModelError(
                f"pose model bundle {bundle} does not match its recorded sha256 (corrupt or modified)",
                "run `scoligait-edge setup-assets --force`",
            )
    return bundle


def bundle_info(root: Path | None = None) -> dict:
    """The bundle's manifest (sha256, variant, sources); raises :class:`ModelError` if absent."""
    pose_bundle(root, verify=False)
    return _read_manifest(pose_dir(root) / MANIFEST_NAME)


def setup_assets(
    root: Path | None = None,
    *,
    force: bool = False,
    wheel: str | os.PathLike | None = None,
    status: Status | None = None,
) -> Path:
    """Assemble and cache the pose bundle; idempotent and fast when already done.

    Order: valid cached bundle → done; extracted official files cached → re-assemble
    offline; else extract them from ``wheel`` (a local ``.whl``) or download the
    mediapipe 0.10.21 wheel with pip. Every official file is checked against its sha256.
    """
    say = status or (lambda _msg: None)
    d = pose_dir(root)
    if not force:
        try:
            bundle = pose_bundle(root)
            say(f"pose model bundle ready: {bundle}")
            return bundle
        except ModelError:
            pass
    src_dir = d / "src"
    sources = _cached_sources(src_dir)
    if sources is None:
        if wheel is not None:
            _extract_sources(Path(wheel), src_dir, say)
        else:
            with tempfile.TemporaryDirectory(prefix="scoligait-wheel-") as tmp:
                _extract_sources(_download_wheel(Path(tmp), say), src_dir, say)
        sources = _cached_sources(src_dir)
        if sources is None:  # pragma: no cover - _extract_sources verifies already
            raise ModelError("extracted model files failed verification", "run setup-assets --force")
    say("writing TFLite metadata and assembling the .task bundle")
    return _assemble(sources, d, say)


def _download_wheel(dest: Path, say: Status) -> Path:
    say(f"downloading {SOURCE_WHEEL} with pip (set-up only; ≈ 36 MB)")
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "-q",
        *_PIP_PLATFORM_ARGS,
        "-d",
        str(dest),
        f"{SOURCE_PACKAGE}=={SOURCE_VERSION}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = sorted(dest.glob("mediapipe-*.whl"))
    if proc.returncode != 0 or not found:
        last = (proc.stderr or proc.stdout or "no output").strip().splitlines()[-1:] or ["no output"]
        raise UnavailableError(
            f"could not download {SOURCE_PACKAGE}=={SOURCE_VERSION} with pip ({last[0]})",
            "check access to the package index, or pass a local wheel: "
            f"`scoligait-edge setup-assets --wheel {SOURCE_WHEEL}`",
        )
    return found[0]


def _extract_sources(wheel: Path, src_dir: Path, say: Status) -> None:
    say(f"extracting the official pose models from {wheel.name}")
    if not wheel.is_file():
        raise InputFileError(f"{wheel}: no such wheel file", f"download {SOURCE_WHEEL} or omit --wheel")
    try:
        with zipfile.ZipFile(wheel) as zf:
            blobs = {s.bundle_name: zf.read(s.wheel_path) for s in MODEL_SOURCES}
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise InputFileError(
            f"{wheel}: not a mediapipe {SOURCE_VERSION} wheel with pose models ({type(e).__name__})",
            f"use {SOURCE_WHEEL} from PyPI",
        ) from None
    src_dir.mkdir(parents=True, exist_ok=True)
    for s in MODEL_SOURCES:
        digest = hashlib.sha256(blobs[s.bundle_name]).hexdigest()
        if digest != s.sha256:
            raise ModelError(
                f"{s.wheel_path} in {wheel.name} has sha256 {digest[:12]}…, expected {s.sha256[:12]}…",
                f"use the official {SOURCE_WHEEL} from PyPI",
            )
        with atomic_path(src_dir / Path(s.wheel_path).name, force=True) as tmp:
            tmp.write_bytes(blobs[s.bundle_name])
            tmp.chmod(0o644)


def _cached_sources(src_dir: Path) -> dict[str, Path] | None:
    """The extracted official files if all are present and match their sha256."""
    out: dict[str, Path] = {}
    for s in MODEL_SOURCES:
        p = src_dir / Path(s.wheel_path).name
        if not p.is_file() or sha256_file(p) != s.sha256:
            return None
        out[s.bundle_name] = p
    return out


def _assemble(sources: dict[str, Path], d: Path, say: Status) -> Path:
    from scoligait_edge.pose.tflite_metadata import with_image_metadata

    members: dict[str, bytes] = {}
    for s in MODEL_SOURCES:
        members[s.bundle_name] = with_image_metadata(
            sources[s.bundle_name].read_bytes(), name=s.metadata_name, mean=s.mean, std=s.std
        )
    bundle = d / BUNDLE_NAME
    # Stored (uncompressed) members with a fixed timestamp: MediaPipe maps the models
    # straight out of the zip, and the bundle's sha256 is reproducible.
    with (
        atomic_path(bundle, force=True) as tmp,
        open(tmp, "wb") as f,
        zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf,
    ):
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2025, 1, 31, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.extra = _align_extra(f.tell(), name)
            zf.writestr(info, data)
        tmp.chmod(0o644)
    manifest = {
        "bundle": BUNDLE_NAME,
        "bundle_sha256": sha256_file(bundle),
        "variant": MODEL_VARIANT,
        "source": f"{SOURCE_PACKAGE}=={SOURCE_VERSION} ({SOURCE_WHEEL})",
        "license": "Apache-2.0",
        "members": {
            s.bundle_name: {
                "from": s.wheel_path,
                "source_sha256": s.sha256,
                "normalization": {"mean": s.mean, "std": s.std},
            }
            for s in MODEL_SOURCES
        },
    }
    with atomic_path(d / MANIFEST_NAME, force=True) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        tmp.chmod(0o644)
    say(f"pose model bundle ready: {bundle}")
    return bundle


def _align_extra(header_offset: int, name: str, align: int = 64) -> bytes:
    """A zip extra field (zipalign's id 0xD935) padding a stored member's data to ``align`` bytes.

    TFLite maps weights straight from the bundle only when they are aligned; the
    flatbuffers are packed 16-byte aligned, so the member must start aligned too.
    """
    start = header_offset + 30 + len(name.encode()) + 4  # local header + name + extra header
    pad = (-start) % align
    return struct.pack("<HH", 0xD935, pad) + bytes(pad)


def _read_manifest(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: unreadable bundle manifest ({type(e).__name__})", SETUP_HINT) from None
    if not isinstance(data, dict):
        raise ModelError(f"{path}: malformed bundle manifest", SETUP_HINT)
    return data
