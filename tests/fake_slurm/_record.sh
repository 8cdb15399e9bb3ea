# Sourced by the fake Slurm commands: append "<command><TAB><arg>..." to
# $FAKE_SLURM_DIR/calls.log, the record the tests read back.
: "${FAKE_SLURM_DIR:?the fake Slurm commands need FAKE_SLURM_DIR}"
mkdir -p "$FAKE_SLURM_DIR"
{
    printf '%s' "$(basename "$0")"
    for arg in "$@"; do printf '\t%s' "$arg"; done
    printf '\n'
} >> "$FAKE_SLURM_DIR/calls.log"
