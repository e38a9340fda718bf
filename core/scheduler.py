"""The in-process scheduler of the embedded default: sends each periodic actor's message on its minute.

Production runs periodiq (`careloop scheduler`) over the same actor declarations instead.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

import dramatiq
import pendulum

from core.jobs import periodic_actors

log = logging.getLogger(__name__)


class InProcessScheduler:
    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="careloop-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def fire(self, now: datetime) -> list[str]:
        """Send every periodic actor due at `now`'s minute; returns their names."""
        fired = []
        for name, spec in periodic_actors():
            if spec.validate(now) and name in self.broker.actors:
                try:
                    self.broker.actors[name].send_with_options(scheduled_at=str(pendulum.instance(now)))
                    fired.append(name)
                except Exception:
                    log.warning("could not schedule %s", name, exc_info=True)
        return fired

    def _loop(self) -> None:
        # Like periodiq, fire once for the current minute at start-up, then on each minute boundary.
        while not self._stop.is_set():
            now = pendulum.now()
            self.fire(now)
            wait = 60 - now.second - now.microsecond / 1_000_000 + 0.05
            self._stop.wait(wait)
