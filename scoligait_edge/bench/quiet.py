"""Silence native libraries' chatter (absl, TFLite, ORT, ExecuTorch) on the process's fds 1 and 2."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_fds() -> Iterator[None]:
    """Send converters' native chatter (absl, TFLite, ORT, progress bars) on fds 1 and 2 to /dev/null.

    The export's outcome is the row's status and reason; ``SCOLIGAIT_DEBUG=1`` keeps the chatter.
    """
    if os.environ.get("SCOLIGAIT_DEBUG") == "1":
        yield
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = [os.dup(1), os.dup(2)]
    except (OSError, ValueError, AttributeError):  # no real fds (embedded interpreters, some test runners)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
