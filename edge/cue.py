"""Indoor cues: tell the person at home what is happening at the door.

A cue shows an indicator pattern and, when the device's owner configured an
announcement command (e.g. a speech synthesiser), runs it with the cue's text. The
command runs without a shell, with a time limit, on a small thread of its own: the
agent's worker never waits for a speaker.

    >>> cues = IndoorCues(indicator, ("espeak", "{text}"), timeout_s=10)   # doctest: +SKIP
    >>> cues.give(CueKind.CARER_AT_DOOR, who="Sam")    # doctest: +SKIP
    'Sam, your carer, is at the door'
"""

from __future__ import annotations

import logging
import queue
import subprocess
import threading
from collections.abc import Sequence

from hardware.interfaces import Indicator, IndicatorPattern
from protocol.commands import CueKind

log = logging.getLogger(__name__)

TEXT_PLACEHOLDER = "{text}"

# The door's existing patterns carry the meaning indoors too: a chime for "someone is at
# the door", a steady light and two beeps for "the door is being opened".
CUE_PATTERNS: dict[CueKind, IndicatorPattern] = {
    CueKind.CARER_AT_DOOR: IndicatorPattern.NOTIFYING,
    CueKind.FAMILY_UNLOCKED: IndicatorPattern.UNLOCKING,
}

# (without a name, with a name)
_PHRASES: dict[CueKind, tuple[str, str]] = {
    CueKind.CARER_AT_DOOR: ("Your carer is at the door", "{who}, your carer, is at the door"),
    CueKind.FAMILY_UNLOCKED: ("Your family is unlocking the door", "{who} is unlocking the door"),
}


def cue_text(cue: CueKind, who: str | None = None) -> str:
    """The sentence announced for ``cue``; ``who`` is a first name, if known."""
    plain, named = _PHRASES[CueKind(cue)]
    # A name never becomes an option of the announcer: it starts the sentence.
    name = (who or "").strip().lstrip("-").strip()
    return named.format(who=name) if name else plain


class IndoorCues:
    """Gives cues on ``indicator`` and through an optional announcement command."""

    def __init__(
        self,
        indicator: Indicator | None,
        announce_command: Sequence[str] | None = None,
        *,
        timeout_s: float = 10.0,
        backlog: int = 4,
    ) -> None:
        self.indicator = indicator
        self.command = tuple(announce_command) if announce_command else None
        self.timeout_s = timeout_s
        self._queue: queue.Queue[str | None] = queue.Queue(maxsize=backlog)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.announced = 0  # announcements that ran to the end with exit status 0

    def give(self, cue: CueKind, who: str | None = None, *, pattern: bool = True) -> str:
        """Show the cue's pattern (unless ``pattern`` is False) and queue its announcement."""
        cue = CueKind(cue)
        text = cue_text(cue, who)
        if pattern and self.indicator is not None:
            try:
                self.indicator.show(CUE_PATTERNS[cue])
            except Exception:  # a broken LED must not stop the cue's announcement
                log.exception("indicator failed while giving the %s cue", cue.value)
        if self.command is not None:
            self._start_worker()
            try:
                self._queue.put_nowait(text)
            except queue.Full:  # cues piling up: the newest are the least useful to repeat
                log.warning("announcement dropped, %d still waiting: %r", self._queue.qsize(), text)
        return text

    def argv(self, text: str) -> list[str]:
        """The announcement command with ``{text}`` filled in (no shell ever sees it)."""
        assert self.command is not None
        return [part.replace(TEXT_PLACEHOLDER, text) for part in self.command]

    def close(self, timeout: float = 2.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                return  # the daemon thread ends with the process
            thread.join(timeout)

    def _start_worker(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="indoor-cue", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while (text := self._queue.get()) is not None:
            self._announce(text)

    def _announce(self, text: str) -> None:
        argv = self.argv(text)
        try:
            # A fixed argv from the device file: no shell ever parses the text.
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            log.warning("announcement command took over %.1f s and was stopped", self.timeout_s)
            return
        except OSError as exc:
            log.warning("cannot run the announcement command %r: %s", argv[0], exc)
            return
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()[:200]
            log.warning("announcement command exited with %d: %s", done.returncode, err)
            return
        self.announced += 1
