"""``benchsuite predict`` (issue 5): scoring audio files with a checkpoint."""
from __future__ import annotations

import datetime
import json

import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner

from benchsuite.common.audio import repeat_to
from benchsuite.cli.main import cli
from benchsuite.plugins.registry import get_registry
from builders_asvspoof import write_audio
from builders_models_raw import save_random_checkpoint, single_thread, write_float_wav


@pytest.fixture(autouse=True)
def one_thread():
    with single_thread():
        yield


@pytest.fixture(scope="module")
def aasist_l_checkpoint(tmp_path_factory):
    """A random-init AASIST-L in the trainer's checkpoint format, and the model itself."""
    folder = tmp_path_factory.mktemp("ckpt")
    path = folder / "best.pt"
    with single_thread():
        model = save_random_checkpoint(get_registry().models.get("aasist-l").spec, path, seed=7)
    return path, model


def run_predict(*args: str):
    return CliRunner().invoke(cli, ["predict", *args], catch_exceptions=False)


def model_logits(model: torch.nn.Module, wave: np.ndarray, samples: int = 64600) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.from_numpy(repeat_to(wave, samples)).unsqueeze(0))[0]


def test_scores_good_files_and_reports_each_bad_one(tmp_path, aasist_l_checkpoint):
    checkpoint, model = aasist_l_checkpoint
    short = write_audio(tmp_path / "short.wav", seed=1, seconds=1.0)  # repeated to 64,600 samples
    long = write_audio(tmp_path / "long.flac", seed=2, seconds=4.5)  # first 64,600 samples
    low_rate = write_audio(tmp_path / "eight_khz.wav", seed=3, seconds=1.0, sample_rate=8000)
    stereo = write_audio(tmp_path / "stereo.wav", seed=4, seconds=0.5, channels=2)
    empty = tmp_path / "empty.wav"
    soundfile.write(str(empty), np.zeros(0, dtype=np.float32), 16000)
    garbage = tmp_path / "notes.wav"
    garbage.write_text("not audio\n")
    missing = tmp_path / "missing.flac"

    files = [short, stereo, long, empty, garbage, low_rate, missing]
    result = run_predict("--model", "aasist-l", "--checkpoint", str(checkpoint), "--device", "cpu", "--json",
                         *map(str, files))

    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    assert [row["file"] for row in rows] == [str(short), str(long), str(low_rate)]
    for row, path in zip(rows, (short, long)):
        expected = model_logits(model, soundfile.read(str(path), dtype="float32")[0])
        assert row["logits"] == pytest.approx(expected.tolist(), abs=1e-4)
        assert row["score"] == pytest.approx(row["logits"][1])
    errors = result.stderr
    assert f"{stereo}: 2 channels" in errors and "mono" in errors
    assert f"{empty}: the file holds no samples" in errors
    assert f"{garbage}: cannot read audio" in errors
    assert f"{missing}: no such file" in errors
    assert f"{low_rate} is 8000 Hz; resampling to 16000 Hz" in errors
    assert "4 of 7 file(s) could not be scored" in errors


def test_text_output_is_one_file_score_line_per_file(tmp_path, aasist_l_checkpoint):
    checkpoint, model = aasist_l_checkpoint
    files = [write_audio(tmp_path / f"utt{i}.wav", seed=i, seconds=0.5 + i) for i in range(3)]
    result = run_predict("--model", "aasist-l", "--checkpoint", str(checkpoint), "--device", "cpu",
                         "--batch-size", "2", *map(str, files))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.rsplit(" ", 1)[0] for line in lines] == [str(f) for f in files]
    for line, path in zip(lines, files):
        expected = model_logits(model, soundfile.read(str(path), dtype="float32")[0])[1].item()
        assert float(line.rsplit(" ", 1)[1]) == pytest.approx(expected, abs=1e-5)


def test_set_routes_to_the_model_config_and_the_eval_recipe(tmp_path, aasist_l_checkpoint):
    checkpoint, model = aasist_l_checkpoint
    wave_path = write_audio(tmp_path / "utt.wav", seed=5, seconds=3.0)
    wave = soundfile.read(str(wave_path), dtype="float32")[0]
    base = ["--model", "aasist-l", "--checkpoint", str(checkpoint), "--device", "cpu", "--json"]

    fft = run_predict(*base, "--set", "sinc_method=fft", str(wave_path))
    assert fft.exit_code == 0, fft.output
    assert json.loads(fft.stdout)[0]["logits"] == pytest.approx(model_logits(model, wave).tolist(), abs=1e-4)

    shorter = run_predict(*base, "--set", "recipe.crop_samples=16000", str(wave_path))
    assert shorter.exit_code == 0, shorter.output
    expected = model_logits(model, wave, samples=16000)
    assert json.loads(shorter.stdout)[0]["logits"] == pytest.approx(expected.tolist(), abs=1e-4)

    unknown = run_predict(*base, "--set", "temperature=3", str(wave_path))
    assert unknown.exit_code == 2
    assert "no recipe or config field 'temperature'" in unknown.stderr


def test_setup_errors_are_one_clear_line(tmp_path, aasist_l_checkpoint):
    checkpoint, _model = aasist_l_checkpoint
    wave = str(write_audio(tmp_path / "utt.wav", seconds=0.2))

    wrong_model = run_predict("--model", "aasist", "--checkpoint", str(checkpoint), wave)
    assert wrong_model.exit_code == 2
    assert "holds a 'aasist-l' model, not 'aasist'" in wrong_model.stderr

    unknown = run_predict("--model", "aasit", "--checkpoint", str(checkpoint), wave)
    assert unknown.exit_code == 2 and "Did you mean 'aasist'" in unknown.stderr

    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00not a checkpoint")
    bad = run_predict("--model", "aasist-l", "--checkpoint", str(corrupt), wave)
    assert bad.exit_code == 2 and f"--checkpoint {corrupt}: not a PyTorch checkpoint" in bad.stderr

    pickled_object = tmp_path / "object.pt"
    torch.save({"model_state": {}, "extra": datetime.date(2024, 1, 1)}, pickled_object)
    unsafe = run_predict("--model", "aasist-l", "--checkpoint", str(pickled_object), wave)
    assert unsafe.exit_code == 2 and "not loaded for safety" in unsafe.stderr and "datetime.date" in unsafe.stderr

    # a plain state dict of another architecture: strict loading names the mismatch
    other = tmp_path / "rawnet2.pt"
    torch.save({"fc_out.weight": torch.zeros(2, 1024)}, other)
    mismatch = run_predict("--model", "aasist-l", "--checkpoint", str(other), wave)
    assert mismatch.exit_code == 2
    assert "does not match model 'aasist-l'" in mismatch.stderr and "unexpected fc_out.weight" in mismatch.stderr

    not_spoof = run_predict("--model", "ecapa-tdnn", "--checkpoint", str(checkpoint), wave)
    assert not_spoof.exit_code == 2 and "scores spoofing countermeasures" in not_spoof.stderr


@pytest.mark.slow
def test_released_aasist_weights_score_the_probe_like_the_authors_code(tmp_path, reference_dir):
    probe = np.load(reference_dir / "conformance" / "probe_a.npy")
    expected = json.loads((reference_dir / "conformance" / "expected_probe_a.json").read_text())["AASIST"]["logits"]
    files = [write_float_wav(tmp_path / f"probe_{row}.wav", probe[row]) for row in range(len(probe))]
    result = run_predict("--model", "aasist", "--checkpoint", str(reference_dir / "checkpoints" / "AASIST.pth"),
                         "--device", "cpu", "--json", *map(str, files))
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    for row, logits in zip(rows, expected):
        assert row["logits"] == pytest.approx(logits, abs=1e-4)
        assert row["score"] == pytest.approx(logits[1], abs=1e-4)
