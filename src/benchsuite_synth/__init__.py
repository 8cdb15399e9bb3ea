"""The synthetic corpora benchsuite generates itself (synth-la, synth-vox, synth-emo): a plugin package."""
