"""The clinician's screening report: one self-contained HTML file.

``write_report(result, path)`` turns a ``ScreenResult`` (``.data`` JSON-ready dict plus the
``pose`` / ``kmap`` / ``mask`` / ``saliency`` / ``frames`` arrays) into a single HTML page with
no external resources and no JavaScript: images are inline ``data:`` URIs, styles are inline,
and a Content-Security-Policy forbids anything else. Every string taken from the result is
escaped (file names come from users).

Children's faces: by default the page holds **no video pixels** — the body is shown as a
COCO-17 skeleton drawn as inline SVG from the pose. Only ``include_frames=True`` embeds
``result.frames`` (downscaled JPEGs).

Drawing needs numpy only; matplotlib (the labelled knowledge-map figure of
:func:`scoligait_edge.kmap.render.save_heatmap`), Pillow (palette compression) and OpenCV
(JPEG frames) are used when importable, with plain fallbacks otherwise.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import struct
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from scoligait_edge.fileio import atomic_write_text, check_can_write
from scoligait_edge.kmap.catalog import DOMAINS, N_FEATURES
from scoligait_edge.pose.coco import COCO_JOINTS, COCO_LIMBS

__all__ = ["render_report", "write_report"]

#: Most video frames embedded with ``include_frames`` (each downscaled to ``_FRAME_WIDTH``).
MAX_FRAMES = 8
_FRAME_WIDTH = 320
#: Skeleton panels per feature strip.
_PANELS = 7

_DOMAIN_TITLES = {
    "motion": "Motion space — joint positions, speeds and angles over time",
    "skeleton": "Self-skeleton — body segment lengths and proportions",
    "crosscorr": "Cross-correlation — left/right and trunk coordination",
}
_VERDICTS = {
    "refer": ("Refer", "refer"),
    "no-referral": ("No referral", "noref"),
    "retake": ("Retake", "retake"),
}
_DEFAULT_CAVEAT = (
    "This is a model estimate from the walking pattern, not a measurement: only a radiograph "
    "(X-ray Cobb measurement) can confirm or rule out scoliosis."
)
#: Segment words in feature names → the COCO joints they span (for highlighting in skeletons).
_SEGMENT_JOINTS = {
    "upper_arm": ("shoulder", "elbow"),
    "forearm": ("elbow", "wrist"),
    "thigh": ("hip", "knee"),
    "shank": ("knee", "ankle"),
    "trunk_side": ("shoulder", "hip"),
}
_BOTH_SIDES_JOINTS = {
    "trunk": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "torso": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "pelvis": ("left_hip", "right_hip"),
    "head": ("nose", "left_ear", "right_ear"),
}

_CSS = """
:root { --ink:#1d2330; --muted:#5b6475; --line:#d8dce4; --bg:#ffffff; --panel:#f5f7fa;
  --refer:#b3261e; --refer-bg:#fdecea; --noref:#1e6b34; --noref-bg:#e8f5ec;
  --retake:#7a5a00; --retake-bg:#fff6d6; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
header h1 { font-size: 24px; margin: 0 0 4px; }
header p { margin: 0; color: var(--muted); word-break: break-all; }
h2 { font-size: 19px; margin: 30px 0 8px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 18px 0 6px; }
.decision { margin-top: 18px; padding: 18px 22px; border-radius: 8px; border-left: 10px solid; }
.decision.refer { background: var(--refer-bg); border-color: var(--refer); }
.decision.noref { background: var(--noref-bg); border-color: var(--noref); }
.decision.retake { background: var(--retake-bg); border-color: var(--retake); }
.decision.unknown { background: var(--panel); border-color: var(--muted); }
.verdict { font-size: 34px; font-weight: 700; letter-spacing: .5px; margin: 0; }
.refer .verdict { color: var(--refer); } .noref .verdict { color: var(--noref); }
.retake .verdict { color: var(--retake); }
.decision p { margin: 6px 0; }
.prob { font-size: 20px; }
.note { color: var(--muted); font-size: 13px; }
.caveat { background: var(--panel); padding: 10px 14px; border-radius: 6px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pass { color: var(--noref); font-weight: 600; } .fail { color: var(--refer); font-weight: 700; }
.unmeasured { color: var(--muted); font-style: italic; }
tr.failed td { background: var(--refer-bg); }
ol.reasons li { margin-bottom: 8px; }
.mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 13px; word-break: break-all; }
figure { margin: 10px 0 16px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
svg { max-width: 100%; height: auto; display: block; }
.frames { display: flex; flex-wrap: wrap; gap: 10px; }
.frames figure { margin: 0; width: 240px; }
.bar { display: inline-block; height: 10px; background: #7b4fb3; vertical-align: middle; margin-right: 6px; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 6px 0; }
dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; word-break: break-all; }
details summary { cursor: pointer; color: var(--muted); }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; border-top: 1px solid var(--line);
  padding-top: 8px; }
@media print { main { max-width: none; padding: 0; } .decision { break-inside: avoid; }
  figure { break-inside: avoid; } }
"""


# --------------------------------------------------------------------------- public API
def write_report(
    result: Any, path: str | os.PathLike, *, include_frames: bool = False, force: bool = False
) -> Path:
    """Write the clinician's report of ``result`` to ``path`` as one self-contained HTML file.

    The write is atomic and refuses to replace an existing file unless ``force``. Video
    pixels are embedded only when ``include_frames`` is true (and ``result.frames`` holds some).
    """
    check_can_write(path, force)  # fail before the (slower) drawing
    return atomic_write_text(path, render_report(result, include_frames=include_frames), force=force)


def render_report(result: Any, *, include_frames: bool = False) -> str:
    """The report's HTML text (see :func:`write_report`)."""
    data: dict[str, Any] = dict(getattr(result, "data", None) or {})
    source = data.get("source") or {}
    fps = _positive(source.get("fps")) or 30.0
    verdict = str(data.get("verdict", ""))
    retake = verdict == "retake"
    pose = _array(getattr(result, "pose", None))
    kmap = _array(getattr(result, "kmap", None))
    mask = _array(getattr(result, "mask", None))
    saliency = None if retake else _array(getattr(result, "saliency", None))
    explanation = None if retake else data.get("explanation")
    frames = getattr(result, "frames", None) if include_frames else None

    title = f"Scoliosis gait screening — {_basename(source.get('path'))}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        _header(data, source),
        _decision(data, verdict),
        _cobb(data, retake),
        _quality(data),
        _knowledge_map(kmap, mask, saliency, fps, retake),
        _top_features(explanation),
        _skeletons(pose, explanation, fps),
        "" if retake else _windows(data, fps),
        _frames(frames, fps) if include_frames else "",
        _provenance(data, source),
        _footer(data, frames if include_frames else None),
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)


# --------------------------------------------------------------------------- sections
def _header(data: dict[str, Any], source: dict[str, Any]) -> str:
    created = data.get("created_utc")
    bits = [f"Recording: <span class='mono'>{_e(source.get('path', 'unknown'))}</span>"]
    if created:
        bits.append(f"Screened {_e(created)} (UTC)")
    return (
        "<header><h1>Scoliosis gait screening report</h1>"
        f"<p>{' · '.join(bits)}</p>"
        "<p class='note'>A screening aid from the walking pattern, not a diagnosis. "
        "The decision on further examination stays with the clinician.</p></header>"
    )


def _decision(data: dict[str, Any], verdict: str) -> str:
    word, cls = _VERDICTS.get(verdict, (verdict or "unknown", "unknown"))
    out = [f"<section class='decision {cls}' aria-label='decision'><p class='verdict'>{_e(word)}</p>"]
    if verdict == "retake":
        out.append(
            "<p><strong>The recording does not meet the screening protocol, so no referral "
            "decision was made.</strong> Record the child again after fixing:</p><ol class='reasons'>"
        )
        reasons = data.get("reasons") or []
        for r in reasons:
            measured = _fmt(r.get("value")) if r.get("value") is not None else "not measured"
            out.append(
                f"<li><strong>{_e(r.get('check', ''))}</strong> — measured {_e(measured)}, "
                f"threshold {_e(_fmt(r.get('threshold')))}. {_e(r.get('why', ''))}"
                f"<br><em>What to do:</em> {_e(r.get('remedy', ''))}</li>"
            )
        if not reasons:
            out.append("<li>No reason was recorded; check the quality table below.</li>")
        out.append("</ol>")
    else:
        p, thr = data.get("referral_prob"), data.get("threshold")
        if verdict == "refer":
            meaning = "at or above the referral threshold: refer for a clinical examination."
        elif verdict == "no-referral":
            meaning = "below the referral threshold: no referral from this screen."
        else:
            meaning = "unrecognised verdict; treat as no decision."
        out.append(
            f"<p class='prob'>Referral probability <strong>{_e(_fmt(p, 3))}</strong> "
            f"(threshold {_e(_fmt(thr, 3))}) — {_e(meaning)}</p>"
            "<p class='note'>Probability that the Cobb angle is 10° or more, averaged over the "
            "recording's analysis windows.</p>"
        )
    out.append("</section>")
    return "".join(out)


def _cobb(data: dict[str, Any], retake: bool) -> str:
    cobb = data.get("cobb_angle") or {}
    caveat = str(cobb.get("caveat") or "")
    head = "<section><h2>Cobb angle estimate</h2>"
    if retake or cobb.get("estimate_deg") is None:
        why = "the recording must be retaken" if retake else "no analysis window was available"
        return head + f"<p>Not estimated — {_e(why)}.</p></section>"
    mae = cobb.get("mae_deg")
    err = f" ± {_fmt(mae, 1)}° (model's mean absolute error)" if mae is not None else " (error unknown)"
    lines = [
        head,
        f"<p class='prob'>Estimated <strong>{_e(_fmt(cobb.get('estimate_deg'), 1))}°</strong>{_e(err)}</p>",
        "<p class='caveat'><strong>Not a measurement.</strong> ",
    ]
    caveat = caveat.strip()
    if "not a measurement" in caveat.lower():  # the pipeline's own caveat says it: show that one
        lines.append(_e(caveat[:1].upper() + caveat[1:]))
    else:
        lines.append(_e(_DEFAULT_CAVEAT) + (f"<br>{_e(caveat)}" if caveat else ""))
    lines.append("</p></section>")
    return "".join(lines)


def _quality(data: dict[str, Any]) -> str:
    q = data.get("quality") or {}
    checks = q.get("checks") or []
    passed = q.get("passed")
    state = "passed" if passed else ("failed" if passed is not None else "unknown")
    out = [
        f"<section><h2>Recording quality</h2><p>Quality gate: <strong class='{'pass' if passed else 'fail'}'>"
        f"{_e(state)}</strong> ({sum(bool(c.get('passed')) for c in checks)} of {len(checks)} "
        "checks passed)</p>"
    ]
    if checks:
        out.append(
            "<table><thead><tr><th>Check</th><th>Measured</th><th>Threshold</th><th>Result</th>"
            "<th>A failure means</th><th>Remedy</th></tr></thead><tbody>"
        )
        for c in checks:
            ok = bool(c.get("passed"))
            measured = bool(c.get("measured", c.get("value") is not None))
            value = _fmt(c.get("value")) if measured and c.get("value") is not None else "not measured"
            res = "<span class='pass'>pass</span>" if ok else "<span class='fail'>FAIL</span>"
            if not measured:
                res += " <span class='unmeasured'>(not measured)</span>"
            out.append(
                f"<tr class='{'ok' if ok else 'failed'}'><td>{_e(c.get('name', ''))}</td>"
                f"<td class='num'>{_e(value)}</td><td class='num'>{_e(_fmt(c.get('threshold')))}</td>"
                f"<td>{res}</td><td>{_e(c.get('why', ''))}</td>"
                f"<td>{_e(c.get('remedy', '')) if not ok else '—'}</td></tr>"
            )
        out.append("</tbody></table>")
    else:
        out.append("<p>No quality checks were recorded.</p>")
    out.append("</section>")
    return "".join(out)


def _knowledge_map(
    kmap: np.ndarray | None, mask: np.ndarray | None, saliency: np.ndarray | None, fps: float, retake: bool
) -> str:
    head = "<section><h2>Knowledge map and what the model attended to</h2>"
    if kmap is None or kmap.ndim != 2 or kmap.shape[0] == 0 or kmap.shape[1] != N_FEATURES:
        shape = "missing" if kmap is None else f"shape {tuple(kmap.shape)}"
        return head + f"<p>No knowledge map to show ({_e(shape)}).</p></section>"
    valid = np.isfinite(kmap)
    if mask is not None and mask.shape == kmap.shape:
        valid &= mask.astype(bool)
    km = np.where(valid, kmap, 0.0).astype(np.float32)
    sal = saliency
    note = ""
    if sal is not None and sal.shape != kmap.shape:
        note = f" (saliency of shape {tuple(sal.shape)} does not match the map and is not drawn)"
        sal = None
    if sal is not None:
        sal = np.where(np.isfinite(sal), sal, 0.0).astype(np.float32)
    try:
        uri, labelled = _heatmap_uri(km, valid, sal, fps)
    except Exception as exc:  # a figure must not cost the clinician the whole report
        return (
            head
            + f"<p>The knowledge map could not be drawn: {_e(type(exc).__name__)}: {_e(exc)}</p></section>"
        )
    if not labelled:  # numpy-only drawing: no axes, so the caption carries the layout
        cap = (
            "Each row is one of the 238 clinical gait features, top to bottom: motion space 0–139, "
            "self-skeleton 140–171, cross-correlation 172–237 (black lines); time runs left to right. "
            "Red / blue = above / below the feature's mean over the recording, grey = not measurable"
            + ("; purple tint = the model's attention (saliency)." if sal is not None else ".")
        )
    elif sal is not None:
        cap = (
            "Each row is one of the 238 clinical gait features (z-scored over the recording; grey = "
            "not measurable), time runs left to right. Contours mark where the model's attention "
            "(saliency) is at least 50 % (green) and 80 % (magenta) of its peak; the side panel "
            "shows each feature's mean saliency."
        )
    elif retake:
        cap = (
            "Knowledge map of the recording as captured; no model output, because the recording "
            "must be retaken."
        )
    else:
        cap = "Knowledge map of the recording; no saliency is available (no analysis window)."
    return (
        head + f"<figure><img alt='knowledge map' src='{uri}'>"
        f"<figcaption>{_e(cap + note)}</figcaption></figure></section>"
    )


def _top_features(explanation: dict[str, Any] | None) -> str:
    if not explanation:
        return ""
    out = [
        "<section><h2>Top features per domain</h2><p class='note'>The features the model relied on "
        "most; <em>share</em> is the feature's part of all saliency over the recording, the span is "
        "the contiguous time around its peak attention.</p>"
    ]
    for domain, rows in explanation.items():
        if not rows:
            continue
        out.append(f"<h3>{_e(_DOMAIN_TITLES.get(domain, domain))}</h3>")
        out.append(
            "<table><thead><tr><th>#</th><th>Clinical label</th><th>Feature</th><th>Share of saliency</th>"
            "<th>Time span</th><th>Frames</th></tr></thead><tbody>"
        )
        for rank, r in enumerate(rows, 1):
            score = _float(r.get("score"))
            share = "—" if score is None else f"{100 * score:.1f} %"
            width = 0 if score is None else max(1, min(120, round(600 * score)))
            sec, fr = r.get("seconds") or [None, None], r.get("frames") or [None, None]
            last = _float(_at(fr, 1))  # spans are [start, end): show the last frame inside
            out.append(
                f"<tr><td class='num'>{rank}</td><td>{_e(r.get('label', ''))}</td>"
                f"<td class='mono'>{_e(r.get('name', ''))}</td>"
                f"<td><span class='bar' style='width:{width}px'></span>{_e(share)}</td>"
                f"<td class='num'>{_e(_fmt(_at(sec, 0), 2))}–{_e(_fmt(_at(sec, 1), 2))} s</td>"
                f"<td class='num'>{_e(_fmt(_at(fr, 0)))}–"
                f"{_e(_fmt(None if last is None else last - 1))}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</section>")
    return "".join(out)


def _skeletons(pose: np.ndarray | None, explanation: dict[str, Any] | None, fps: float) -> str:
    head = "<section><h2>Skeleton at the top features' time spans</h2>"
    if pose is None or pose.ndim != 3 or pose.shape[0] == 0 or pose.shape[1:] != (len(COCO_JOINTS), 3):
        return ""
    n = pose.shape[0]
    strips: list[tuple[str, int, int, set[int]]] = []  # caption, span start, span end, highlighted joints
    seen: dict[tuple[int, int], int] = {}
    for domain, rows in (explanation or {}).items():
        if not rows:
            continue
        r = rows[0]
        fr = r.get("frames") or [0, 1]
        s = int(np.clip(_float(_at(fr, 0)) or 0, 0, n - 1))
        e = int(np.clip(_float(_at(fr, 1)) or s + 1, s + 1, n))
        label = f"{_DOMAIN_TITLES.get(domain, domain).split(' — ')[0]}: {r.get('label', r.get('name', ''))}"
        joints = _feature_joints(str(r.get("name", "")))
        if (s, e) in seen:  # same span: one strip, both labels
            i = seen[(s, e)]
            cap, s0, e0, j0 = strips[i]
            strips[i] = (f"{cap}; {label}", s0, e0, j0 | joints)
        else:
            seen[(s, e)] = len(strips)
            strips.append((label, s, e, joints))
    if not strips:  # retake or no windows: an overview of what the pose estimator saw
        head = "<section><h2>Skeleton overview</h2>"
        body = _skeleton_svg(
            pose, np.linspace(0, n - 1, min(_PANELS, n)).round().astype(int), None, set(), fps
        )
        return (
            head + f"<figure>{body}<figcaption>Pose as detected, at evenly spaced moments of the recording "
            "(drawn from joint positions; no video pixels).</figcaption></figure></section>"
        )
    out = [head]
    min_len = max(round(0.8 * fps), _PANELS)
    for cap, s, e, joints in strips:
        s0, e0 = s, e
        if e0 - s0 < min_len:  # widen short spans for context, centred on the span
            c = (s + e) / 2
            s0 = int(max(0, round(c - min_len / 2)))
            e0 = int(min(n, s0 + min_len))
            s0 = max(0, e0 - min_len)
        idx = np.unique(np.linspace(s0, e0 - 1, min(_PANELS, e0 - s0)).round().astype(int))
        svg = _skeleton_svg(pose, idx, (s, e), joints, fps)
        out.append(
            f"<figure>{svg}<figcaption>{_e(cap)} — frames {s}–{e - 1} ({s / fps:.2f}–{e / fps:.2f} s) "
            "framed in purple (unframed panels: neighbouring frames for context). Red joints take "
            "part in the feature; blue = child's left, orange = right, faded = low pose confidence. "
            "Drawn from joint positions only (no video pixels).</figcaption></figure>"
        )
    out.append("</section>")
    return "".join(out)


def _windows(data: dict[str, Any], fps: float) -> str:
    wins = [w for w in (data.get("windows") or []) if _float(w.get("referral_prob")) is not None]
    if not wins:
        return ""
    thr = _float(data.get("threshold"))
    clip_p = _float(data.get("referral_prob"))
    out = [
        "<section><h2>Per-window results</h2>",
        f"<figure>{_windows_svg(wins, thr, clip_p, fps)}<figcaption>Referral probability of each "
        f"{_e(len(wins))} analysis window (bar from the window's first to last frame); dashed red line: "
        "threshold; dotted line: the recording's probability (mean of the windows).</figcaption></figure>",
        f"<details><summary>Per-window values ({len(wins)} windows)</summary><table><thead><tr><th>#</th>"
        "<th>Frames</th><th>Time (s)</th><th>Referral probability</th><th>Cobb estimate (°)</th>"
        "<th>Prompt</th></tr></thead><tbody>",
    ]
    for i, w in enumerate(wins, 1):
        s, e = _float(w.get("start")), _float(w.get("end"))
        t = f"{_fmt(None if s is None else s / fps, 2)}–{_fmt(None if e is None else e / fps, 2)}"
        out.append(
            f"<tr><td class='num'>{i}</td><td class='num'>{_e(_fmt(s))}–{_e(_fmt(e))}</td>"
            f"<td class='num'>{_e(t)}</td><td class='num'>{_e(_fmt(w.get('referral_prob'), 3))}</td>"
            f"<td class='num'>{_e(_fmt(w.get('cobb_angle'), 1))}</td>"
            f"<td class='num'>{_e(_fmt(w.get('prompt_id')))}</td></tr>"
        )
    out.append("</tbody></table></details></section>")
    return "".join(out)


def _frames(frames: Any, fps: float) -> str:
    head = "<section><h2>Video frames (included on request)</h2>"
    if not frames:
        return head + "<p>Frames were requested but the result holds none.</p></section>"
    keys = sorted(frames)
    pick = [
        keys[i]
        for i in np.unique(np.linspace(0, len(keys) - 1, min(MAX_FRAMES, len(keys))).round().astype(int))
    ]
    out = [head, "<div class='frames'>"]
    for k in pick:
        try:
            uri = _frame_uri(np.asarray(frames[k]))
        except Exception as exc:
            out.append(f"<p>Frame {_e(k)} could not be embedded: {_e(exc)}</p>")
            continue
        index = _float(k)
        when = f" · {index / fps:.2f} s" if index is not None else ""
        out.append(
            f"<figure><img alt='video frame {_e(k)}' src='{uri}'><figcaption>frame {_e(k)}{_e(when)}"
            "</figcaption></figure>"
        )
    out.append(f"</div><p class='note'>{len(pick)} of {len(keys)} frames shown, downscaled.</p></section>")
    return "".join(out)


def _provenance(data: dict[str, Any], source: dict[str, Any]) -> str:
    size = source.get("size")
    size_s = f"{size[0]} × {size[1]} px" if isinstance(size, list | tuple) and len(size) == 2 else "—"
    src = [
        ("File", source.get("path")),
        ("Kind", source.get("kind")),
        ("Frame rate", None if source.get("fps") is None else f"{_fmt(source.get('fps'), 2)} fps"),
        ("Frames", source.get("frames")),
        ("Frame size", size_s),
    ]
    b = data.get("bundle") or {}
    bundle = [
        ("Bundle", b.get("path")),
        ("Target", b.get("target")),
        ("Precision", b.get("precision")),
        ("Device class", b.get("device_class")),
        ("Recipe", b.get("recipe")),
        ("Manifest sha256", b.get("manifest_sha256")),
    ]
    t = data.get("timing") or {}
    rtf = _float(t.get("realtime_factor"))
    timing = [
        ("Total", _secs(t.get("total_s"))),
        ("Pose estimation", _secs(t.get("pose_s"))),
        ("Knowledge map", _secs(t.get("kmap_s"))),
        ("Model", _secs(t.get("model_s"))),
        ("Real-time factor", "—" if rtf is None else f"{rtf:.2f}× (≥ 1 is faster than real time)"),
    ]
    return (
        "<section><h2>Recording, model bundle and timing</h2>"
        f"<h3>Recording</h3>{_kv(src)}<h3>Model bundle</h3>{_kv(bundle, mono={'Bundle', 'Manifest sha256'})}"
        f"<h3>Timing</h3>{_kv(timing)}</section>"
    )


def _footer(data: dict[str, Any], frames: Any) -> str:
    if frames:
        privacy = "This report contains video frames, included on request: handle it as identifiable data."
    else:
        privacy = (
            "This report contains no video pixels: the child is shown only as a skeleton drawn "
            "from joint positions."
        )
    return (
        f"<footer>{_e(privacy)}<br>Result schema {_e(data.get('schema', '?'))} "
        f"v{_e(data.get('schema_version', '?'))}"
        f" · scoligait-edge {_e(data.get('toolkit_version', '?'))}</footer>"
    )


# --------------------------------------------------------------------------- drawings
def _skeleton_svg(
    pose: np.ndarray, idx: np.ndarray, span: tuple[int, int] | None, joints: set[int], fps: float
) -> str:
    """A row of skeleton panels (inline SVG) for pose frames ``idx``; panels inside ``span`` framed."""
    pw, ph, lab = 140, 220, 30
    xy = pose[idx, :, :2].astype(np.float64)
    conf = pose[idx, :, 2].astype(np.float64)
    ok = np.isfinite(xy).all(axis=-1) & np.isfinite(conf) & (conf > 0)
    width = pw * len(idx)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {ph + lab}' width='{width}' "
        f"height='{ph + lab}' role='img' aria-label='skeleton'>"
    ]
    # One scale for the whole strip (body sizes comparable), each panel centred on its own body.
    centres = np.zeros((len(idx), 2))
    extent = np.full(2, 1e-6)
    for p in range(len(idx)):
        if ok[p].any():
            lo, hi = xy[p][ok[p]].min(axis=0), xy[p][ok[p]].max(axis=0)
            centres[p] = (lo + hi) / 2
            extent = np.maximum(extent, hi - lo)
    scale = min((pw - 16) / extent[0], (ph - 16) / extent[1])
    for p, f in enumerate(idx.tolist()):
        x0 = p * pw
        inside = span is not None and span[0] <= f < span[1]
        stroke = "#7b4fb3" if inside else "#d8dce4"
        parts.append(
            f"<rect x='{x0 + 2}' y='2' width='{pw - 4}' height='{ph - 4}' rx='6' fill='#f7f8fb' "
            f"stroke='{stroke}' stroke-width='{3 if inside else 1}'/>"
        )

        def at(j: int, p: int = p, x0: int = x0) -> tuple[float, float]:
            q = (xy[p, j] - centres[p]) * scale
            return x0 + pw / 2 + q[0], ph / 2 + q[1]

        for a, b in COCO_LIMBS:
            if not (ok[p, a] and ok[p, b]):
                continue
            (xa, ya), (xb, yb) = at(a), at(b)
            colour = _side_colour(a, b)
            op = 1.0 if min(conf[p, a], conf[p, b]) >= 0.5 else 0.35
            parts.append(
                f"<line x1='{xa:.1f}' y1='{ya:.1f}' x2='{xb:.1f}' y2='{yb:.1f}' stroke='{colour}' "
                f"stroke-width='3' stroke-linecap='round' opacity='{op}'/>"
            )
        for j in range(len(COCO_JOINTS)):
            if not ok[p, j]:
                continue
            x, y = at(j)
            hot = j in joints
            op = 1.0 if conf[p, j] >= 0.5 else 0.35
            parts.append(
                f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{4.5 if hot else 2.8}' "
                f"fill='{'#d62728' if hot else '#1d2330'}' opacity='{op}'/>"
            )
        if not ok[p].any():
            parts.append(
                f"<text x='{x0 + pw / 2}' y='{ph / 2}' text-anchor='middle' font-size='12' fill='#b3261e'>"
                "no pose</text>"
            )
        parts.append(
            f"<text x='{x0 + pw / 2}' y='{ph + 18}' text-anchor='middle' font-size='12' fill='#5b6475'>"
            f"#{f} · {f / fps:.2f} s</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _side_colour(a: int, b: int) -> str:
    names = COCO_JOINTS[a], COCO_JOINTS[b]
    if all(n.startswith("left") for n in names):
        return "#1f77b4"
    if all(n.startswith("right") for n in names):
        return "#ff7f0e"
    return "#6b7280"


def _feature_joints(name: str) -> set[int]:
    """COCO joints a catalog feature's machine name refers to (best effort, for highlighting)."""
    out = {j for j, joint in enumerate(COCO_JOINTS) if joint in name}
    for seg, ends in _SEGMENT_JOINTS.items():
        if seg not in name:
            continue
        sides = [s for s in ("left", "right") if f"{s}_{seg}" in name] or ["left", "right"]
        out |= {COCO_JOINTS.index(f"{s}_{end}") for s in sides for end in ends}
    for word, names in _BOTH_SIDES_JOINTS.items():
        if word in name and not any(f"{s}_{word}" in name for s in ("left", "right")):
            out |= {COCO_JOINTS.index(n) for n in names}
    return out


def _windows_svg(wins: list[dict[str, Any]], thr: float | None, clip_p: float | None, fps: float) -> str:
    w, h, ml, mr, mt, mb = 900, 230, 52, 16, 12, 40
    iw, ih = w - ml - mr, h - mt - mb
    starts = [_float(x.get("start")) or 0.0 for x in wins]
    ends = [max(_float(x.get("end")) or 0.0, s + 1) for x, s in zip(wins, starts, strict=True)]
    t0, t1 = min(starts) / fps, max(ends) / fps
    if t1 <= t0:
        t1 = t0 + 1.0

    def px(t: float) -> float:
        return ml + (t - t0) / (t1 - t0) * iw

    def py(p: float) -> float:
        return mt + (1.0 - min(max(p, 0.0), 1.0)) * ih

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {w} {h}' width='{w}' height='{h}' "
        "role='img' aria-label='per-window referral probability'>",
        f"<rect x='{ml}' y='{mt}' width='{iw}' height='{ih}' fill='#f7f8fb' stroke='#d8dce4'/>",
    ]
    for p in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(
            f"<line x1='{ml}' x2='{ml + iw}' y1='{py(p):.1f}' y2='{py(p):.1f}' stroke='#e3e6ec'/>"
            f"<text x='{ml - 6}' y='{py(p) + 4:.1f}' text-anchor='end' font-size='11' "
            f"fill='#5b6475'>{p:.2f}</text>"
        )
    for t in _nice_ticks(t0, t1):
        parts.append(
            f"<text x='{px(t):.1f}' y='{mt + ih + 16}' text-anchor='middle' font-size='11' fill='#5b6475'>"
            f"{t:g}</text>"
        )
    parts.append(
        f"<text x='{ml + iw / 2}' y='{h - 6}' text-anchor='middle' font-size='12' "
        "fill='#5b6475'>time (s)</text>"
        f"<text x='12' y='{mt + ih / 2}' text-anchor='middle' font-size='12' fill='#5b6475' "
        f"transform='rotate(-90 12 {mt + ih / 2})'>probability</text>"
    )
    for x, s, e in zip(wins, starts, ends, strict=True):
        p = _float(x.get("referral_prob")) or 0.0
        colour = "#b3261e" if thr is not None and p >= thr else "#1e6b34"
        parts.append(
            f"<line x1='{px(s / fps):.1f}' x2='{px(e / fps):.1f}' y1='{py(p):.1f}' y2='{py(p):.1f}' "
            f"stroke='{colour}' stroke-width='4' stroke-linecap='round' opacity='0.75'/>"
        )
    if thr is not None:
        parts.append(
            f"<line x1='{ml}' x2='{ml + iw}' y1='{py(thr):.1f}' y2='{py(thr):.1f}' stroke='#b3261e' "
            "stroke-width='1.5' stroke-dasharray='6 4'/>"
        )
    if clip_p is not None:
        parts.append(
            f"<line x1='{ml}' x2='{ml + iw}' y1='{py(clip_p):.1f}' y2='{py(clip_p):.1f}' stroke='#1d2330' "
            "stroke-width='1.2' stroke-dasharray='2 3'/>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 6) for i in range(int((hi - first) / step) + 1)]


def _heatmap_uri(km: np.ndarray, valid: np.ndarray, sal: np.ndarray | None, fps: float) -> tuple[str, bool]:
    """The knowledge-map figure as a PNG data URI, and whether it is the labelled matplotlib figure."""
    if _importable("matplotlib"):
        from scoligait_edge.kmap.render import save_heatmap

        with tempfile.TemporaryDirectory(prefix="scoligait-report-") as tmp:
            png = Path(tmp) / "kmap.png"
            title = "Knowledge map (per-feature z-score)" + (
                " with model saliency" if sal is not None else ""
            )
            save_heatmap(km, png, title=title, saliency=sal, mask=valid, fps=fps)
            data = _shrink_png(png.read_bytes())
        return _data_uri("image/png", data), True
    return _data_uri("image/png", _png_bytes(_heatmap_plain(km, valid, sal))), False


def _heatmap_plain(
    km: np.ndarray, valid: np.ndarray, sal: np.ndarray | None, max_w: int = 1000
) -> np.ndarray:
    """Numpy-only heatmap: RdBu-like colours, grey invalid cells, domain lines, saliency tinted purple."""
    from scoligait_edge.kmap.render import zscore_features  # numpy only at import time

    z = zscore_features(km, valid)  # [T, F] in [-3, 3]
    t = z.shape[0]
    cols = np.linspace(0, t - 1, min(t, max_w)).round().astype(int)
    z, v = z[cols].T, valid[cols].T  # [F, W]
    anchors = np.array(
        [[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]], float
    )
    pos = (z + 3.0) / 6.0 * (len(anchors) - 1)
    i0 = np.clip(np.floor(pos).astype(int), 0, len(anchors) - 2)
    frac = (pos - i0)[..., None]
    rgb = anchors[i0] * (1 - frac) + anchors[i0 + 1] * frac
    rgb[~v] = 191.0
    if sal is not None:
        s = sal[cols].T.astype(np.float64)
        hi = s.max()
        if hi > 0:
            a = np.clip(s / hi, 0, 1)[..., None] * 0.7
            rgb = rgb * (1 - a) + np.array([123, 79, 179], float) * a
    img = np.repeat(rgb, 3, axis=0)  # 3 px per feature row
    for sl in DOMAINS.values():
        if sl.start:
            img[3 * sl.start - 1 : 3 * sl.start + 1] = 0
    if img.shape[1] < 400:  # widen short clips so the image is legible
        img = np.repeat(img, math.ceil(400 / img.shape[1]), axis=1)
    return img.astype(np.uint8)


def _shrink_png(png: bytes) -> bytes:
    """Re-encode a matplotlib PNG with a 256-colour palette (a third of the size) when Pillow is there."""
    if not _importable("PIL"):
        return png
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        q = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        buf = io.BytesIO()
        q.save(buf, format="PNG", optimize=True)
    small = buf.getvalue()
    return small if len(small) < len(png) else png


def _frame_uri(frame: np.ndarray) -> str:
    """One RGB uint8 ``[H, W, 3]`` frame, downscaled to ``_FRAME_WIDTH`` wide, as a JPEG data URI."""
    f = np.asarray(frame)
    if f.ndim == 2:
        f = np.repeat(f[..., None], 3, axis=2)
    if f.ndim != 3 or f.shape[2] not in (3, 4) or f.shape[0] == 0 or f.shape[1] == 0:
        raise ValueError(f"frame has shape {f.shape}, expected [H, W, 3]")
    f = f[..., :3]
    if f.dtype != np.uint8:
        f = np.clip(f, 0, 255).astype(np.uint8)
    h, w = f.shape[:2]
    nw = min(w, _FRAME_WIDTH)
    nh = max(1, round(h * nw / w))
    if _importable("cv2"):
        import cv2

        small = cv2.resize(f, (nw, nh), interpolation=cv2.INTER_AREA) if nw != w else f
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(small[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:
            raise ValueError("OpenCV could not encode the frame as JPEG")
        return _data_uri("image/jpeg", buf.tobytes())
    if _importable("PIL"):
        from PIL import Image

        im = Image.fromarray(np.ascontiguousarray(f)).resize((nw, nh), Image.Resampling.BILINEAR)
        b = io.BytesIO()
        im.save(b, format="JPEG", quality=80)
        return _data_uri("image/jpeg", b.getvalue())
    rows = np.linspace(0, h - 1, nh).round().astype(int)
    cols = np.linspace(0, w - 1, nw).round().astype(int)
    return _data_uri("image/png", _png_bytes(f[rows][:, cols]))


def _png_bytes(rgb: np.ndarray) -> bytes:
    """Minimal PNG encoder (8-bit RGB, 'Up' filter, zlib) so drawing needs numpy only."""
    img = np.ascontiguousarray(rgb, dtype=np.uint8)
    h, w, _ = img.shape
    raw = img.reshape(h, w * 3)
    up = raw.copy()
    up[1:] = raw[1:] - raw[:-1]  # uint8 wrap-around is the PNG 'Up' filter
    scan = np.concatenate([np.full((h, 1), 2, np.uint8), up], axis=1)

    def chunk(tag: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(scan.tobytes(), 9))
        + chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- small helpers
def _e(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True


def _array(x: Any) -> np.ndarray | None:
    return None if x is None else np.asarray(x)


def _float(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _positive(x: Any) -> float | None:
    v = _float(x)
    return v if v is not None and v > 0 else None


def _at(seq: Any, i: int) -> Any:
    try:
        return seq[i]
    except (TypeError, IndexError, KeyError):
        return None


def _fmt(x: Any, digits: int | None = None) -> str:
    """A number for people: ``—`` when missing, integers plain, else ``digits`` decimals or 3 significant."""
    if isinstance(x, bool):
        return str(x).lower()
    v = _float(x)
    if v is None:
        return "—" if x is None or isinstance(x, int | float) else str(x)
    if digits is not None:
        return f"{v:.{digits}f}"
    if v == int(v) and abs(v) < 1e9:
        return str(int(v))
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"


def _secs(x: Any) -> str:
    v = _float(x)
    return "—" if v is None else f"{v:.2f} s"


def _basename(p: Any) -> str:
    return os.path.basename(str(p)) if p else "unknown recording"


def _kv(rows: list[tuple[str, Any]], mono: set[str] | None = None) -> str:
    out = ["<dl class='kv'>"]
    for k, v in rows:
        cls = " class='mono'" if mono and k in mono else ""
        out.append(f"<dt>{_e(k)}</dt><dd{cls}>{_e('—' if v is None or v == '' else v)}</dd>")
    out.append("</dl>")
    return "".join(out)
