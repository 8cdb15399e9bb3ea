"""Is an EER above 50 % inverted scores, or a system at chance?

An EER above 50 % only says the scores rank the classes the wrong way round
when it is above 50 % by more than its sampling error.  A system at chance
gives EERs on both sides of 50 % from seed to seed, and telling its user to
negate the scores would be wrong advice.  The verdict uses the stratified
bootstrap interval of the EER (the one the ``eer`` metric reports, or one
drawn here when the caller computed none): negation is advised only when the
whole interval lies above 50 %.
"""
from __future__ import annotations

import warnings

from benchsuite.api import DetSweep

from .bootstrap import BootstrapInterval, bootstrap_eer_interval

# Enough resamples to place a 95 % interval against 50 %; drawn only for EERs above 50 %.
VERDICT_RESAMPLES = 200


def polarity_warning(eer: float, sweep: DetSweep, source: str, positive: str = "bona fide",
                     interval: BootstrapInterval | None = None) -> str | None:
    """The warning for an EER above 50 %, or None for an EER at or below it."""
    if eer <= 0.5:
        return None
    if interval is None:
        interval = bootstrap_eer_interval(sweep, VERDICT_RESAMPLES)
    where = source or "scores"
    spread = f"{interval.level * 100:g} % bootstrap interval {interval.low * 100:.2f}-{interval.high * 100:.2f} %"
    if interval.low > 0.5:
        return (f"{where}: EER is {eer * 100:.2f} % ({spread}, all above 50 %): the scores look inverted; "
                f"benchsuite expects higher scores for {positive}. Negate them if they score the other class.")
    return (f"{where}: EER is {eer * 100:.2f} % ({spread}, which includes 50 %): the system is at chance "
            f"level on these trials; the scores are not inverted, they do not separate the classes.")


def warn_about_polarity(eer: float, sweep: DetSweep, source: str, positive: str = "bona fide",
                        interval: BootstrapInterval | None = None) -> None:
    message = polarity_warning(eer, sweep, source, positive, interval)
    if message is not None:
        warnings.warn(message, UserWarning, stacklevel=3)
