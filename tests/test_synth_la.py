"""The embedded corpus synth-la: ASVspoof 2019 LA layout and line formats,
determinism, splits and attacks, safe generation under concurrency, opening it
through the real reader and the registry, and that it is neither trivial nor
hopeless for a simple countermeasure."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile

from benchsuite.api import ConfigError, Task
from benchsuite_synth import _voice as voice, la as synth_la
from benchsuite_datasets.asvspoof import ASVspoof2019LA
from benchsuite_synth.corpora import open_synth_la
from benchsuite_synth.la import EVAL_ATTACKS, PROTOCOL, TRAIN_ATTACKS, generate_synth_la
from builders_synth import GmmBaseline, digest, equal_error_rate, lfcc_frames

SMALL = dict(train=24, dev=14, eval=30, bonafide_fraction=0.2, speakers_train=3, speakers_dev=2, speakers_eval=4,
             min_seconds=0.6, max_seconds=1.2)
LINE = re.compile(r"^(LA_\d{4}) (LA_[TDE]_\d{7}) - (-|A\d\d) (bonafide|spoof)$")
PREFIX = {"train": "LA_T_", "dev": "LA_D_", "eval": "LA_E_"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_synth_la(tmp_path_factory.mktemp("synth-la") / "LA", seed=3, workers=1, **SMALL)


def protocol(corpus: Path, split: str) -> list[re.Match]:
    lines = (corpus / "ASVspoof2019_LA_cm_protocols" / PROTOCOL[split]).read_text(encoding="utf-8").splitlines()
    matches = [LINE.match(line) for line in lines]
    bad = [line for line, m in zip(lines, matches) if m is None]
    assert not bad, f"malformed protocol lines: {bad[:3]}"
    return matches  # type: ignore[return-value]


def enrolment(corpus: Path, split: str) -> dict[str, list[str]]:
    """speaker -> enrolment utterances from the ASV enrolment lists, and "*" -> all of them."""
    if split == "train":
        return {}
    out: dict[str, list[str]] = {"*": []}
    for sex in ("female", "male"):
        path = corpus / "ASVspoof2019_LA_asv_protocols" / f"ASVspoof2019.LA.asv.{split}.{sex}.trn.txt"
        for line in path.read_text(encoding="utf-8").splitlines():
            speaker, utts = line.split(" ")
            out[speaker] = utts.split(",")
            out["*"] += out[speaker]
    return out


def test_layout_protocol_lines_and_audio_format(corpus: Path) -> None:
    assert sorted(p.name for p in corpus.iterdir()) == [
        "ASVspoof2019_LA_asv_protocols", "ASVspoof2019_LA_asv_scores", "ASVspoof2019_LA_cm_protocols",
        "ASVspoof2019_LA_dev", "ASVspoof2019_LA_eval", "ASVspoof2019_LA_train", "synth-la.json"]
    for split in ("train", "dev", "eval"):
        lines = protocol(corpus, split)
        assert len(lines) == SMALL[split]
        flac_dir = corpus / f"ASVspoof2019_LA_{split}" / "flac"
        # dev and eval also hold the ASV enrolment utterances, as in the 2019 release
        expected = {f"{m.group(2)}.flac" for m in lines} | {f"{u}.flac" for u in enrolment(corpus, split).get("*", [])}
        assert {p.name for p in flac_dir.iterdir()} == expected
        for m in lines:
            speaker, utt, system, key = m.groups()
            assert utt.startswith(PREFIX[split])
            assert (system == "-") == (key == "bonafide")
            info = soundfile.info(str(flac_dir / f"{utt}.flac"))
            assert (info.samplerate, info.channels, info.format, info.subtype) == (16000, 1, "FLAC", "PCM_16")
            assert SMALL["min_seconds"] - 0.001 <= info.duration <= SMALL["max_seconds"] + 0.001


def test_attacks_speakers_and_ids_per_split(corpus: Path) -> None:
    speakers: dict[str, set[str]] = {}
    ids: list[str] = []
    for split in ("train", "dev", "eval"):
        lines = protocol(corpus, split)
        systems = Counter(m.group(3) for m in lines)
        assert set(systems) - {"-"} == set(TRAIN_ATTACKS if split != "eval" else EVAL_ATTACKS)
        assert systems["-"] == round(SMALL[split] * SMALL["bonafide_fraction"])
        counts = [n for s, n in systems.items() if s != "-"]
        assert max(counts) - min(counts) <= 1  # attacks equally represented
        speakers[split] = {m.group(1) for m in lines}
        assert speakers[split] == set(synth_la.SPEAKERS[split][: SMALL[f"speakers_{split}"]])
        ids += [m.group(2) for m in lines]
    assert not speakers["train"] & speakers["dev"] and not speakers["train"] & speakers["eval"]
    assert not speakers["dev"] & speakers["eval"]
    assert len(set(ids)) == len(ids)
    # the eval set re-uses two training systems under new names and has families never seen in training
    assert synth_la.ATTACKS["A16"][1] is synth_la.ATTACKS["A04"][1]
    assert synth_la.ATTACKS["A19"][1] is synth_la.ATTACKS["A06"][1]


def test_same_seed_same_bytes_with_any_worker_count_other_seed_differs(corpus: Path, tmp_path: Path) -> None:
    again = generate_synth_la(tmp_path / "again", seed=3, workers=2, **SMALL)
    assert digest(again) == digest(corpus)
    other = generate_synth_la(tmp_path / "other", seed=4, workers=1, **SMALL)
    assert (other / "ASVspoof2019_LA_cm_protocols" / PROTOCOL["eval"]).read_bytes() != \
        (corpus / "ASVspoof2019_LA_cm_protocols" / PROTOCOL["eval"]).read_bytes()
    first = sorted((other / "ASVspoof2019_LA_train" / "flac").iterdir())[0]
    assert first.read_bytes() != sorted((corpus / "ASVspoof2019_LA_train" / "flac").iterdir())[0].read_bytes()


def test_an_existing_corpus_is_reused_and_a_different_one_refused(corpus: Path, tmp_path: Path) -> None:
    manifest = corpus / "synth-la.json"
    stamp = manifest.stat().st_mtime_ns
    assert generate_synth_la(corpus, seed=3, **SMALL) == corpus
    assert manifest.stat().st_mtime_ns == stamp
    with pytest.raises(ConfigError, match=r"generated with other settings \(seed: 3 there, 5 requested\)"):
        generate_synth_la(corpus, seed=5, **SMALL)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="already holds other files"):
        generate_synth_la(foreign, seed=3, **SMALL)
    with pytest.raises(ConfigError, match="synth-la option eval=5: expected an integer of at least 15"):
        generate_synth_la(tmp_path / "tiny", **{**SMALL, "eval": 5})
    with pytest.raises(ConfigError, match="unknown option"):
        generate_synth_la(tmp_path / "typo", n_train=10)


def test_concurrent_generators_wait_for_one_another(corpus: Path, tmp_path: Path) -> None:
    """Two processes asking for the same corpus at once: one generates under the
    lock, the other then finds it complete; nothing half-written is left."""
    target = tmp_path / "shared" / "LA"
    stale = tmp_path / "shared" / ".LA.tmp-999999"  # left by a process killed mid-generation
    stale.mkdir(parents=True)
    code = ("import sys; from benchsuite_synth.la import generate_synth_la; "
            f"generate_synth_la(sys.argv[1], seed=3, workers=1, **{SMALL!r})")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    racers = [subprocess.Popen([sys.executable, "-c", code, str(target)], env=env, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    for racer in racers:
        _, err = racer.communicate(timeout=300)
        assert racer.returncode == 0, err
    assert digest(target) == digest(corpus)
    assert sorted(p.name for p in target.parent.iterdir()) == [".LA.lock", "LA"]


def test_opens_through_the_la2019_reader_and_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    from benchsuite.plugins.registry import get_registry

    monkeypatch.setenv("BENCHSUITE_CACHE_DIR", str(tmp_path / "cache"))
    entry = get_registry().datasets.get("synth-la")
    spec = entry.spec
    assert entry.plugin.name == "synth" and spec.embedded and spec.task is Task.SPOOF
    assert spec.default_root().parent == tmp_path / "cache"
    options = {"seed": 2, **SMALL}
    dataset = spec.open(None, options)
    assert "generating the synthetic corpus synth-la" in capsys.readouterr().err
    assert isinstance(dataset, ASVspoof2019LA) and dataset.name == "synth-la"
    assert dataset.root.parent == tmp_path / "cache"
    assert dataset.root.name.startswith(f"synth-la-v{synth_la.GENERATOR_VERSION}-seed2-24-14-30-")
    dataset.validate(check_audio=True)
    eval_split = dataset.load_split("eval")
    assert eval_split.asv_scores is not None  # read from ASVspoof2019_LA_asv_scores/ by the 2019 reader
    n_bonafide = sum(u.label == "bonafide" for u in eval_split.utterances)
    assert (len(eval_split.asv_scores.target), len(eval_split.asv_scores.nontarget),
            len(eval_split.asv_scores.spoof)) == (n_bonafide, n_bonafide, len(eval_split.utterances) - n_bonafide)
    assert {u.attack for u in eval_split.utterances} == {"-", *EVAL_ATTACKS}
    assert Counter(u.label for u in dataset.load_split("train").utterances)["bonafide"] == 5
    # second use: the cached copy, no regeneration
    again = spec.open(None, options)
    assert again.root == dataset.root and capsys.readouterr().err == ""
    assert again.fingerprint() == dataset.fingerprint() != ""
    # a copy written by `benchsuite data synth-la --out DIR`
    written = spec.generate(tmp_path / "copy", seed=2, **SMALL)
    assert digest(written) == digest(dataset.root)
    assert open_synth_la(written, {"seed": 2}).load_split("dev").source.endswith(PROTOCOL["dev"])
    with pytest.raises(ConfigError, match=r"generated with other settings: seed=7 \(it has 2\)"):
        open_synth_la(written, {"seed": 7})
    with pytest.raises(ConfigError, match="option seed=-1; expected a non-negative integer"):
        open_synth_la(None, {"seed": -1})
    with pytest.raises(ConfigError, match="synth-la option train='many': expected an integer"):
        open_synth_la(None, {"train": "many"})


def test_voice_has_the_speakers_pitch_pauses_and_formant_motion() -> None:
    rng = np.random.default_rng(11)
    low = voice.random_voice(rng, sex="m")
    high = voice.random_voice(rng, sex="f")
    for profile in (low, high):
        plan = voice.plan_utterance(profile, rng, 2.5)
        wave = voice.render(plan, rng)
        frame_db = 10 * np.log10(np.mean(np.abs(voice.stft(wave)) ** 2, axis=1) + 1e-12)
        assert frame_db.max() - np.percentile(frame_db, 5) > 30  # syllables and real pauses
        # pitch of the loudest voiced stretch by autocorrelation, against the plan's pitch there
        centre = int(np.argmax(plan.energy * plan.voicing)) * voice.HOP
        segment = wave[max(0, centre - 320): centre + 320].astype(np.float64)
        corr = np.correlate(segment, segment, mode="full")[len(segment) - 1:]
        lags = np.arange(len(corr))
        valid = (lags > 16000 / 500) & (lags < 16000 / 60)
        estimate = 16000 / lags[valid][np.argmax(corr[valid])]
        expected = plan.f0[centre // voice.HOP]
        assert abs(np.log2(estimate / expected)) < 0.1, (estimate, expected)
        assert np.ptp(plan.formants[:, 1]) > 300  # the second formant moves between sounds
    assert low.f0_median < 150 < 170 < high.f0_median


def test_stft_round_trip_is_exact_enough() -> None:
    wave = np.random.default_rng(0).standard_normal(12345).astype(np.float32)
    assert np.max(np.abs(voice.istft(voice.stft(wave), len(wave)) - wave)) < 1e-4


def test_a_simple_countermeasure_is_better_than_chance_but_not_perfect() -> None:
    """LFCC frames + two small GMMs trained on the training attacks: dev (seen
    attacks, new speakers) well above chance; eval neither trivial nor hopeless;
    close variants of training systems easy, the subtle unseen ones hard.
    Audio is synthesised in memory (about two seconds of CPU)."""
    sizes = synth_la.SynthLaSizes(train=80, dev=40, eval=110, bonafide_fraction=0.3, speakers_train=8,
                                  speakers_dev=6, speakers_eval=10, min_seconds=0.8, max_seconds=1.6)
    seed = 3
    items = synth_la.corpus_items(seed, sizes)
    frames = {(it.split, it.index): lfcc_frames(synth_la.synthesise(seed, it)) for it in items}

    def split(name: str) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        chosen = [it for it in items if it.split == name]
        return ([frames[(it.split, it.index)] for it in chosen], np.array([it.system == "-" for it in chosen]),
                np.array([it.system for it in chosen]))

    train_frames, train_bonafide, _ = split("train")
    model = GmmBaseline(n_components=8).fit(train_frames, train_bonafide)
    dev_frames, dev_bonafide, _ = split("dev")
    dev_scores = model.score(dev_frames)
    dev_eer = equal_error_rate(dev_scores[dev_bonafide], dev_scores[~dev_bonafide])
    eval_frames, eval_bonafide, eval_systems = split("eval")
    scores = model.score(eval_frames)
    eval_eer = equal_error_rate(scores[eval_bonafide], scores[~eval_bonafide])
    per_attack = {a: equal_error_rate(scores[eval_bonafide], scores[eval_systems == a]) for a in EVAL_ATTACKS}
    assert dev_eer < 0.35, dev_eer
    assert 0.1 < eval_eer < 0.45, eval_eer
    easy = np.mean([per_attack[a] for a in ("A07", "A08")])  # close variants of training systems
    subtle = np.mean([per_attack[a] for a in ("A17", "A18")])  # unseen, subtle
    assert easy < 0.2 and subtle > 0.3 and subtle > easy + 0.2, per_attack


ASV_TRIAL = re.compile(r"^(LA_\d{4}) (LA_[DE]_\d{7}) (bonafide|A\d\d) (target|nontarget|spoof)$")


def test_asv_side_in_the_2019_layout_with_scores_of_a_real_verifier(corpus: Path) -> None:
    """Enrolment lists, trial lists and score files as the 2019 LA release names and formats them;
    every CM utterance is a trial, the scores come from the GMM-UBM verifier in trial order."""
    for split in ("dev", "eval"):
        cm = {m.group(2): m for m in protocol(corpus, split)}
        enrolled = enrolment(corpus, split)
        assert sorted(k for k in enrolled if k != "*") == sorted({m.group(1) for m in cm.values()})
        assert all(len(utts) == 5 for k, utts in enrolled.items() if k != "*")
        assert not set(enrolled["*"]) & set(cm)  # enrolment audio is never a CM trial
        trial_lines = (corpus / "ASVspoof2019_LA_asv_protocols" / f"ASVspoof2019.LA.asv.{split}.gi.trl.txt"
                       ).read_text(encoding="utf-8").splitlines()
        trials = [ASV_TRIAL.match(line) for line in trial_lines]
        assert all(trials), trial_lines[:3]
        for t in trials:
            speaker, utt, source, key = t.groups()
            m = cm[utt]
            if key == "spoof":
                assert (source, speaker) == (m.group(3), m.group(1))
            else:
                assert source == "bonafide" and m.group(4) == "bonafide"
                assert (speaker == m.group(1)) == (key == "target")
        keys = Counter(t.group(4) for t in trials)
        n_bonafide = sum(m.group(4) == "bonafide" for m in cm.values())
        assert keys == {"target": n_bonafide, "nontarget": n_bonafide, "spoof": len(cm) - n_bonafide}
        score_lines = (corpus / "ASVspoof2019_LA_asv_scores" / f"ASVspoof2019.LA.asv.{split}.gi.trl.scores.txt"
                       ).read_text(encoding="utf-8").splitlines()
        assert [line.split()[:2] for line in score_lines] == [[t.group(3), t.group(4)] for t in trials]
        scores = {k: np.array([float(line.split()[2]) for line in score_lines if line.split()[1] == k])
                  for k in ("target", "nontarget")}
        assert np.isfinite(scores["target"]).all() and scores["target"].mean() > scores["nontarget"].mean()


def test_the_verifier_adapts_towards_its_speaker_and_scores_it_higher() -> None:
    from benchsuite_synth import _asv

    rng = np.random.default_rng(0)
    background = rng.normal(0.0, 1.0, (4000, 3))
    ubm = _asv.train_ubm(background, rng)
    speaker_frames = rng.normal(0.8, 0.5, (300, 3))
    model = _asv.adapt_speaker(ubm, speaker_frames)
    # MAP moves the means the frames touch towards the frames, and leaves weights and variances alone
    assert np.allclose(model.weights, ubm.weights) and np.allclose(model.variances, ubm.variances)
    assert np.linalg.norm(model.means - speaker_frames.mean(0), axis=1).min() < \
        np.linalg.norm(ubm.means - speaker_frames.mean(0), axis=1).min()
    same = _asv.llr_score(model, ubm, rng.normal(0.8, 0.5, (200, 3)))
    other = _asv.llr_score(model, ubm, rng.normal(-0.8, 0.5, (200, 3)))
    assert same > 0.0 > other
    wave = np.sin(2 * np.pi * 200 * np.arange(16000) / 16000).astype(np.float32) * 0.1
    frames = _asv.features(wave)
    assert frames.shape[1] == 2 * _asv.N_MFCC and np.allclose(frames.mean(axis=0), 0.0, atol=1e-9)
