"""CLI commands: ``setup-assets`` (assemble the pose model bundle) and ``pose`` (video → clip)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from scoligait_edge.cli import app
from scoligait_edge.errors import InputFileError

_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


@app.command("setup-assets")
def setup_assets_cmd(
    force: bool = typer.Option(False, "--force", help="Rebuild the bundle even if a valid one is cached."),
    wheel: Path | None = typer.Option(
        None, "--wheel", help="Use a local mediapipe-0.10.21 wheel instead of downloading it with pip."
    ),
) -> None:
    """Assemble the offline MediaPipe pose model bundle (set-up time; idempotent)."""
    from scoligait_edge.pose.assets import setup_assets

    with _err.status("setting up pose assets…") as status:

        def say(msg: str) -> None:
            status.update(msg)
            _err.print(f"[dim]setup-assets:[/] {msg}")

        setup_assets(force=force, wheel=wheel, status=say)


def _part_paths(out: Path, n: int) -> list[Path]:
    if n == 1:
        return [out]
    return [out.with_name(f"{out.stem}_part{k}{out.suffix}") for k in range(1, n + 1)]


@app.command("pose")
def pose_cmd(
    video: str = typer.Argument(..., help="Video file (or a camera index with --stream)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output clip .npz (CLIP_partK.npz when split)."
    ),
    every: int = typer.Option(1, "--every", min=1, help="Process every N-th frame (quick looks)."),
    roi: str | None = typer.Option(None, "--roi", help="Region x,y,w,h (pixels) holding the walker."),
    crop: str = typer.Option(
        "auto", "--crop", help="auto: find small/distant people and landmark a window around them; off."
    ),
    min_confidence: float = typer.Option(
        0.5, "--min-confidence", min=0.0, max=1.0, help="Detection, presence and tracking threshold."
    ),
    max_gap: int = typer.Option(15, "--max-gap", min=0, help="Longest gap (30 Hz frames) to interpolate."),
    max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Stop after N source frames."),
    stream: bool = typer.Option(False, "--stream", help="Stream frames (file or camera) instead of writing."),
    force: bool = typer.Option(False, "--force", help="Replace existing output files."),
) -> None:
    """Video → COCO-17 pose clip at 30 Hz with silhouettes (MediaPipe, offline)."""
    thresholds = dict(
        min_detection_confidence=min_confidence,
        min_presence_confidence=min_confidence,
        min_tracking_confidence=min_confidence,
    )
    if stream:
        _stream(video, every=every, roi=roi, crop=crop, max_frames=max_frames, **thresholds)
        return
    if out is None:
        raise InputFileError("pose needs --out CLIP.npz", "give an output path, or --stream to only stream")
    if out.suffix.lower() != ".npz":
        raise InputFileError(f"--out {out} must end in .npz", "clips are written as .npz")
    from scoligait_edge.fileio import check_can_write

    check_can_write(out, force)
    from scoligait_edge.pose import save_clip
    from scoligait_edge.pose.video import extract_pose

    clips = extract_pose(
        video, every=every, roi=roi, crop=crop, max_gap=max_gap, max_frames=max_frames, **thresholds
    )
    paths = _part_paths(out, len(clips))
    for p in paths:
        check_can_write(p, force)
    for p, clip in zip(paths, clips, strict=True):
        save_clip(p, clip, force=force)
    meta = clips[0].metadata
    cropped = f" ({meta['crop_frames']} on an automatic crop)" if meta.get("crop_frames") else ""
    _out.print(
        f"{meta['source']}: {meta['processed_frames']} frames at {meta['source_fps']:g} fps, "
        f"person detected in {meta['detection_rate']:.1%}{cropped}"
    )
    for p, clip in zip(paths, clips, strict=True):
        why = clip.metadata.get("split_reason")
        _out.print(
            f"wrote {p} ({len(clip)} frames at 30 Hz, {clip.duration_s:.1f} s){f' — {why}' if why else ''}"
        )
    for clip in clips:
        for jump in clip.metadata["track_jumps"]:
            _out.print(f"[yellow]track jump[/] at {jump['time_s']:.2f} s: {jump['reason']}")


def _stream(
    video: str, *, every: int, roi: str | None, crop: str, max_frames: int | None, **thresholds: float
) -> None:
    """Print per-window knowledge-map summaries (or per-second pose summaries without kmap)."""
    import numpy as np

    from scoligait_edge.pose.stream import PoseStream

    source: str | int = int(video) if video.isdigit() and not Path(video).exists() else video
    ps = PoseStream(source, every=every, roi=roi, crop=crop, max_frames=max_frames, **thresholds)
    kmap = _streaming_kmap()
    n = windows = 0
    seen = 0
    for frame in ps:
        n += 1
        seen += int(np.isfinite(frame[:, :2]).all(axis=1).sum() >= 4)
        if kmap is not None:
            window = kmap.push(frame)
            if window is not None:
                windows += 1
                w = np.asarray(window)
                mask = getattr(kmap, "last_mask", None)
                valid = f"valid {np.mean(mask):.0%}, " if mask is not None else ""
                _out.print(
                    f"window {windows}: ends at {n / 30:.2f} s, shape {tuple(w.shape)}, {valid}"
                    f"mean |x| {np.nanmean(np.abs(w)):.3f}"
                )
        elif n % 30 == 0:
            _out.print(f"{n / 30:.1f} s: person in {seen}/30 frames")
            seen = 0
    _out.print(
        f"streamed {n} frames at 30 Hz from {ps.info.path if ps.info else video}; "
        f"detection rate {ps.detection_rate:.1%}"
        + (f"; {windows} knowledge-map windows" if kmap is not None else "; (no streaming knowledge map)")
    )


def _streaming_kmap():
    try:
        from scoligait_edge.kmap import StreamingKnowledgeMap
    except ImportError:
        return None
    return StreamingKnowledgeMap()
