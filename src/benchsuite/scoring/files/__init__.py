"""Score, key and trial files: reading, writing and validating them.

Every reader refuses bad input with a :class:`~benchsuite.api.ScoreFileError`
that names the file, the line and what was expected, before any metric sees a
number.  Score files are joined to protocols on utterance id, never on row
order (misaligned rows are a common cause of wrong published EERs).

Formats (whitespace-separated unless stated):

* CM scores: ``UTT SCORE`` (ASVspoof 2021 baselines), ``UTT SRC KEY SCORE``
  (AASIST, RawGAT-ST, and what benchsuite writes), or the ASVspoof 5
  tab-separated form with a ``filename<TAB>cm-score`` header.
* CM keys: ASVspoof 2019 protocol ``SPEAKER UTT - SYSTEM KEY``; ASVspoof 2021
  ``trial_metadata.txt`` with 8 (LA) or 13 (DF) columns; ASVspoof 5
  tab-separated key with a ``filename<TAB>cm-label`` header.
* organisers' ASV scores ``SOURCE KEY SCORE`` (KEY target|nontarget|spoof).
* SV trials ``LABEL ENROL TEST`` or ``ENROL TEST LABEL`` (label target/nontarget
  or 1/0); SV scores ``ENROL TEST SCORE`` with an optional 4th label column.
* classification ``UTT TRUE PRED``.

One module per task (``spoof``, ``verify``, ``classify``) reads its files, ``writers`` writes
them and ``validation`` checks in-memory score sets; this package exports all of them.
"""
from ._lines import (
    BONAFIDE_ATTACK, MAX_LISTED,
)
from .spoof import (
    ASV_KEYS, CmScoreFile, SpoofKey, join_spoof_scores, read_asv_scores, read_cm_scores, read_spoof_key,
    spoof_key_from_split, spoof_scores_from_files, spoof_scores_from_split,
)
from .verify import (
    SvScoreFile, SvTrials, join_verify_scores, read_sv_scores, read_sv_trials, verify_scores_from_files,
)
from .classify import (
    read_classify_scores,
)
from .writers import (
    write_classify_scores, write_spoof_scores, write_verify_scores,
)
from .validation import (
    duplicate_values, string_keys, validate_asv_scores, validate_classify_scores, validate_spoof_scores, validate_verify_scores,
)
