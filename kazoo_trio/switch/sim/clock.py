"""How long simulated things take.  Layer: bottom (no imports from the simulated core)."""

from __future__ import annotations

import attrs

from kazoo_trio.switch.clock import Clock, SystemClock

__all__ = ["Clock", "SimTimings", "SystemClock"]


@attrs.frozen
class SimTimings:
    """How long simulated things take, in seconds (short values make quick tests).

    ``ring_delay``: a ``user/`` leg rings this long before answering;
    ``answer_delay``: a ``null/`` leg answers after this; ``playback``: a file plays
    this long (``silence_stream://N`` plays N ms, the channel variable
    ``sim_playback_ms`` overrides); ``record``: the longest a ``record`` runs.
    """

    ring_delay: float = 2.0
    answer_delay: float = 0.0
    playback: float = 1.0
    record: float = 5.0
