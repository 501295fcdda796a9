"""How many jobs a worker claims per channel: only what that channel's pace lets go soon.

A worker claiming by due time alone fills its slots with whatever is oldest. Behind a slow channel
(Messenger, 10/s) those jobs then sleep for their pacing slots while the fast channels' slots pass
unused: GCRA banks nothing. So each channel is claimed for on its own, and only when its account's
next free slot (shared by every worker through the pacer) is less than CLAIM_HORIZON away; then as
many jobs as its rate sends before the horizon, minus those this worker holds that have not yet
reached the pacer.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

# Claimed jobs sleep at most about this long for their slot: long enough to ride out a claim's round
# trip and a busy event loop, short enough that 140 sends/s keep about 70 jobs in flight.
CLAIM_HORIZON = 0.5
# A channel never holds more of a worker's jobs than its rate sends in this long. Jobs that wait for
# their citizen (one reply per second to one person) do not show in the account's next slot, and
# must not fill the worker for that one channel.
CHANNEL_CAP_SECONDS = 2.0
# Claim once a quarter of the horizon's room is free: a claim per freed slot costs a transaction each.
CLAIM_FRACTION = 0.25


@dataclass
class _Channel:
    rate: float
    inflight: int = 0


class ChannelClaims:
    """One worker's view: the channels with due jobs, and the jobs it holds for each."""

    def __init__(self) -> None:
        self._due: dict[int, _Channel] = {}
        self._inflight: dict[int, int] = defaultdict(int)
        self._unbooked: dict[int, set[int]] = defaultdict(set)  # claimed, not yet at the pacer

    def mark_due(self, *, channel_id: int, rate: float) -> None:
        self._due.setdefault(channel_id, _Channel(rate=rate)).rate = rate

    def drained(self, *, channel_id: int) -> None:
        """A claim came back short: nothing more is due there until the database says otherwise."""
        self._due.pop(channel_id, None)

    def due_channels(self) -> list[int]:
        return list(self._due)

    def room(self, *, channel_id: int, account_wait: float, free: int, batch: int) -> int:
        """How many jobs to claim for this channel now; 0 means not yet."""
        channel = self._due.get(channel_id)
        if channel is None or free <= 0:
            return 0
        rate = channel.rate
        cap = max(1, math.ceil(rate * CHANNEL_CAP_SECONDS)) - self._inflight[channel_id]
        ahead = 0 if account_wait >= CLAIM_HORIZON else math.ceil(rate * (CLAIM_HORIZON - account_wait))
        want = min(ahead - len(self._unbooked[channel_id]), cap, free, batch)
        if want <= 0:
            return 0
        enough = max(1, math.ceil(rate * CLAIM_HORIZON * CLAIM_FRACTION))
        return want if want >= min(enough, cap, free, batch) else 0

    def claimed(self, *, channel_id: int, job_id: int) -> None:
        self._inflight[channel_id] += 1
        self._unbooked[channel_id].add(job_id)

    def booked(self, *, channel_id: int, job_id: int) -> None:
        """The job is at the pacer: from now on the account's next slot accounts for it."""
        self._unbooked[channel_id].discard(job_id)

    def finished(self, *, channel_id: int, job_id: int) -> None:
        self._unbooked[channel_id].discard(job_id)
        self._inflight[channel_id] -= 1
        if self._inflight[channel_id] <= 0:
            self._inflight.pop(channel_id, None)
            self._unbooked.pop(channel_id, None)
