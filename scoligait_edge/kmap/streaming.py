"""Streaming knowledge map: push pose frames, get ``[window, 238]`` windows every ``hop`` frames."""

from __future__ import annotations

import numpy as np

from scoligait_edge.errors import ShapeError
from scoligait_edge.kmap.catalog import N_FEATURES
from scoligait_edge.kmap.offline import check_fps
from scoligait_edge.kmap.state import KmapState


class StreamingKnowledgeMap:
    """Causal streaming map with amortized O(1) work per frame.

    :meth:`push` stores a frame (O(1)). Once ``window`` frames have arrived, and then every
    ``hop`` frames, the frames pushed since the last emission — and only those — are advanced
    through the same :class:`~scoligait_edge.kmap.state.KmapState` the offline map uses
    (running correlation sums, ring buffers, held values), and the last ``window`` rows are
    returned. An emitted window equals ``knowledge_map(all_frames_so_far)[-window:]``.
    """

    def __init__(self, window: int = 96, hop: int = 16, fps: float = 30.0) -> None:
        if int(window) != window or window < 1 or int(hop) != hop or hop < 1:
            raise ShapeError(f"window={window}, hop={hop}", "window and hop must be positive integers")
        self.window = int(window)
        self.hop = int(hop)
        self.fps = check_fps(fps)
        self._state = KmapState(self.fps)
        self._pending = np.empty((max(self.window, self.hop), 17, 3), np.float32)
        self.reset()

    def reset(self) -> None:
        """Drop every buffered frame and all state (start of a new clip)."""
        self._state.reset()
        self._n_pending = 0
        self.frames_seen = 0
        self._rows = np.zeros((0, N_FEATURES), np.float32)
        self._mask = np.zeros((0, N_FEATURES), bool)
        self.last_window: np.ndarray | None = None
        self.last_mask: np.ndarray | None = None

    def push(self, frame: np.ndarray) -> np.ndarray | None:
        """Add one COCO-17 frame ``[17, 3]``; return a float32 ``[window, 238]`` window when one is due."""
        arr = np.asarray(frame)
        if arr.shape != (17, 3) or arr.dtype.kind not in "fiub":
            raise ShapeError(
                f"frame has shape {arr.shape} and dtype {arr.dtype}, expected numeric [17, 3]",
                "push one COCO-17 (x, y, confidence) frame at a time",
            )
        self._pending[self._n_pending] = arr
        self._n_pending += 1
        self.frames_seen += 1
        due = self.frames_seen - self.window
        if due < 0 or due % self.hop:
            return None
        return self._emit()

    def _emit(self) -> np.ndarray:
        rows, mask = self._state.process(self._pending[: self._n_pending])
        self._n_pending = 0
        w = self.window
        if rows.shape[0] >= w:
            self._rows, self._mask = rows[-w:], mask[-w:]
        else:
            self._rows = np.concatenate((self._rows[rows.shape[0] :], rows))
            self._mask = np.concatenate((self._mask[mask.shape[0] :], mask))
        self.last_window, self.last_mask = self._rows.copy(), self._mask.copy()
        return self.last_window
