"""Progress display: per cell, the epoch, step, loss and an ETA.

On a terminal one status line is rewritten in place; in a log (CI, Slurm)
a line is printed at most every ``log_interval`` seconds and at each epoch end.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"


class Progress:
    def __init__(self, stream: TextIO | None = None, log_interval: float = 15.0, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.log_interval = log_interval
        self.quiet = quiet
        self.prefix = ""
        self.cell_start = time.monotonic()
        self.last_print = 0.0
        self.total_steps = 0
        self.done_steps = 0
        self.steps_at_start = 0
        self._line_open = False

    # ---------------------------------------------------------------- cells

    def start_cell(self, label: str, position: int, total: int) -> None:
        self.prefix = f"[{position}/{total}] {label}"
        self.cell_start = time.monotonic()
        self.last_print = 0.0
        self.done_steps = 0
        self.steps_at_start = 0
        self.message("start")

    def plan_steps(self, total_steps: int, already_done: int = 0) -> None:
        """Total optimizer steps of the cell (for the ETA); steps already done on resume."""
        self.total_steps = total_steps
        self.done_steps = already_done
        self.steps_at_start = already_done

    def step(self, epoch: int, epochs: int, step: int, steps: int, loss: float, note: str = "") -> None:
        """One optimiser step; ``note`` (e.g. ``data wait 3 %``) ends the status line."""
        self.done_steps += 1
        now = time.monotonic()
        interval = 0.5 if self.tty else self.log_interval
        if now - self.last_print < interval and step + 1 < steps:
            return
        self.last_print = now
        elapsed = now - self.cell_start
        fresh = self.done_steps - self.steps_at_start
        rate = fresh / elapsed if elapsed > 0 else 0.0
        remaining = max(0, self.total_steps - self.done_steps)
        eta = format_duration(remaining / rate) if rate > 0 else "?"
        self._status(f"epoch {epoch + 1}/{epochs} step {step + 1}/{steps} loss {loss:.4f} "
                     f"{rate:.2f} step/s ETA {eta}" + (f", {note}" if note else ""))

    def message(self, text: str) -> None:
        if self.quiet:
            return
        self._close_line()
        print(f"{self.prefix} {text}".strip(), file=self.stream, flush=True)

    def end_run(self, text: str) -> None:
        self.prefix = ""
        self.message(text)

    def end_cell(self, text: str) -> None:
        self.message(f"{text} ({format_duration(time.monotonic() - self.cell_start)})")

    # ---------------------------------------------------------------- output

    def _status(self, text: str) -> None:
        if self.quiet:
            return
        line = f"{self.prefix} {text}"
        if self.tty:
            self.stream.write("\r\033[K" + line)
            self.stream.flush()
            self._line_open = True
        else:
            print(line, file=self.stream, flush=True)

    def _close_line(self) -> None:
        if self._line_open:
            self.stream.write("\n")
            self._line_open = False
