"""Screening: footage → pose → knowledge map → any bundle → ``refer | no-referral | retake``.

from scoligait_edge.screen import Screener, screen
for result in screen("videos/", bundle="student_onnx_int8", stream=True):
    result.save("out/" + Path(result.data["source"]["path"]).stem)
"""

from __future__ import annotations

from scoligait_edge.screen.pipeline import Screener, ScreenResult, WindowResult
from scoligait_edge.screen.sources import screen, screen_clip, screen_video

__all__ = ["ScreenResult", "Screener", "WindowResult", "screen", "screen_clip", "screen_video"]
