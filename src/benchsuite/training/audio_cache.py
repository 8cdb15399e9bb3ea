"""An optional decoded-audio cache: every utterance of a split decoded once
into one int16 ``.npy`` file (opened as a memory map) plus an offsets index.

FLAC decoding can take most of a small model's epoch; reading int16 samples
from a page-cached memory map is far cheaper.  The cache directory name
carries a hash of the utterance ids, paths, file sizes and modification
times and of the sample rate, so a changed corpus builds a new cache instead
of reusing a stale one (the ``.npy`` feature caches that RawGAT-ST writes into
the working directory are the counter-example).  Building writes into a
temporary folder and renames it into place, so a crash or a concurrent build
never leaves a half-written cache that a later run would trust.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from benchsuite.contract import DataError, Utterance

FORMAT_VERSION = 1
SAMPLES_FILE = "samples.npy"
OFFSETS_FILE = "offsets.npy"
META_FILE = "meta.json"
INDEX_FILE = "utterances.tsv"  # id<TAB>path per line, to tell later whether this cache went stale
INT16_SCALE = 32768.0
# The .npy header of a 1-D int16 array is 128 bytes for any length below 10**40,
# so it can be written after the samples have been streamed behind it.
HEADER_BYTES = 128
# Below this many files a pool of decoding processes costs more to start than it saves.
PARALLEL_MIN_FILES = 2000


def corpus_hash(utterances: Sequence[Utterance], sample_rate: int) -> str:
    """SHA-256 over (id, path, size, mtime) of every file and the rate, 16 hex digits."""
    return _hash_files([(u.utt_id, str(u.path)) for u in utterances], sample_rate)


def _hash_files(entries: Sequence[tuple[str, str]], sample_rate: int) -> str:
    digest = hashlib.sha256(f"v{FORMAT_VERSION} rate={sample_rate}\n".encode())
    for utt_id, path in entries:
        try:
            stat = os.stat(path)
        except OSError as err:
            raise DataError(f"{path}: cannot build the decoded-audio cache ({err.strerror or err}) "
                            f"for utterance {utt_id}") from None
        digest.update(f"{utt_id}\t{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _safe_key(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key) or "cache"


def _npy_header(length: int) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<i2", "fortran_order": False, "shape": (length,)})
    return buffer.getvalue()


def to_int16(wave: np.ndarray) -> tuple[np.ndarray, int]:
    """Rounded int16 samples and how many were clipped (resampling can overshoot 1.0)."""
    scaled = np.rint(np.asarray(wave, dtype=np.float64) * INT16_SCALE)
    clipped = int(np.count_nonzero((scaled > 32767) | (scaled < -32768)))
    return np.clip(scaled, -32768, 32767).astype("<i2"), clipped


class DecodedAudioCache:
    """A built cache: ``len(cache)`` utterances, ``cache.waveform(i)`` float32.

    Pickles without its samples (a DataLoader worker reopens the memory map),
    so passing ``cache.waveform`` to worker processes copies no audio."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        try:
            self.meta = json.loads((self.folder / META_FILE).read_text(encoding="utf-8"))
            self.offsets = np.load(self.folder / OFFSETS_FILE)
        except (OSError, ValueError) as err:
            raise DataError(f"{self.folder}: unreadable decoded-audio cache ({err}); delete the folder to rebuild it")
        self.sample_rate = int(self.meta["sample_rate"])
        self._samples: np.ndarray | None = None

    # ---------------------------------------------------------------- building

    @classmethod
    def build_or_open(cls, cache_dir: Path, key: str, utterances: Sequence[Utterance], sample_rate: int,
                      read: Callable[[Path], np.ndarray], workers: int = 0) -> "DecodedAudioCache":
        """Open the cache of exactly these files, building it first when absent.

        ``key`` names the cache (e.g. ``asvspoof2019-la-train``).  Caches of
        the same key whose files have changed since are removed once the new
        one is in place; those of other utterance lists (another subset of the
        split) stay, since a concurrent run may be reading them.  ``read(path)``
        returns float32 mono audio at ``sample_rate``; with ``workers`` > 1 a split of at
        least :data:`PARALLEL_MIN_FILES` files is decoded by that many processes (``read``
        must pickle then), written in the same order, so the cache is the same bytes."""
        cache_dir = Path(cache_dir)
        name = f"{_safe_key(key)}-{corpus_hash(utterances, sample_rate)}"
        folder = cache_dir / name
        if not (folder / META_FILE).is_file():
            cache_dir.mkdir(parents=True, exist_ok=True)
            cls._build(folder, key, utterances, sample_rate, read, workers)
            cls._remove_stale(cache_dir, key, keep=name)
        cache = cls(folder)
        if len(cache) != len(utterances):
            raise DataError(f"{folder}: the cache holds {len(cache)} utterances, not the {len(utterances)} requested; "
                            f"delete it to rebuild")
        return cache

    @classmethod
    def exists(cls, cache_dir: Path, key: str, utterances: Sequence[Utterance], sample_rate: int) -> bool:
        """Whether the cache of exactly these files is built (a stat of each file, no decoding)."""
        try:
            name = f"{_safe_key(key)}-{corpus_hash(utterances, sample_rate)}"
        except DataError:
            return False
        return (Path(cache_dir) / name / META_FILE).is_file()

    @classmethod
    def _build(cls, folder: Path, key: str, utterances: Sequence[Utterance], sample_rate: int,
               read: Callable[[Path], np.ndarray], workers: int = 0) -> None:
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".building", dir=folder.parent))
        try:
            offsets = np.zeros(len(utterances) + 1, dtype=np.int64)
            clipped_total = 0
            with open(work / SAMPLES_FILE, "wb") as handle, _decoder(read, workers, len(utterances)) as decode:
                handle.write(b"\0" * HEADER_BYTES)
                for index, (samples, clipped) in enumerate(decode([u.path for u in utterances])):
                    clipped_total += clipped
                    handle.write(samples.tobytes())
                    offsets[index + 1] = offsets[index] + len(samples)
                header = _npy_header(int(offsets[-1]))
                if len(header) != HEADER_BYTES:  # pragma: no cover - needs an absurd length
                    raise DataError(f"{work}: unexpected .npy header size {len(header)}")
                handle.seek(0)
                handle.write(header)
                handle.flush()
                os.fsync(handle.fileno())
            np.save(work / OFFSETS_FILE, offsets)
            (work / INDEX_FILE).write_text("".join(f"{u.utt_id}\t{u.path}\n" for u in utterances), encoding="utf-8")
            meta = {"format_version": FORMAT_VERSION, "key": key, "sample_rate": sample_rate,
                    "utterances": len(utterances), "samples": int(offsets[-1]), "clipped_samples": clipped_total}
            (work / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
            if clipped_total:
                print(f"notice: decoded-audio cache {key}: {clipped_total} samples beyond int16 range were clipped",
                      file=sys.stderr)
            try:
                os.rename(work, folder)
            except OSError:
                # another process finished the same cache first; its copy is identical
                if not (folder / META_FILE).is_file():
                    raise
        finally:
            if work.exists():
                shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _remove_stale(cache_dir: Path, key: str, keep: str) -> None:
        """Remove the caches of ``key`` whose files changed or vanished since they were built."""
        prefix = f"{_safe_key(key)}-"
        for entry in cache_dir.iterdir():
            if entry.name == keep or not entry.name.startswith(prefix) or not entry.is_dir():
                continue
            suffix = entry.name[len(prefix):]
            if len(suffix) != 16 or any(c not in "0123456789abcdef" for c in suffix):
                continue  # another key that merely starts like this one
            try:
                meta = json.loads((entry / META_FILE).read_text(encoding="utf-8"))
                lines = (entry / INDEX_FILE).read_text(encoding="utf-8").splitlines()
            except (OSError, ValueError):
                continue
            if meta.get("key") != key:
                continue
            entries = [tuple(line.split("\t", 1)) for line in lines]
            try:
                current = _hash_files(entries, int(meta["sample_rate"]))  # type: ignore[arg-type]
            except DataError:
                current = ""  # a file is gone: stale
            if current != suffix:
                # a process still reading it keeps its open memory map on POSIX
                shutil.rmtree(entry, ignore_errors=True)

    @property
    def utt_ids(self) -> list[str]:
        lines = (self.folder / INDEX_FILE).read_text(encoding="utf-8").splitlines()
        return [line.split("\t", 1)[0] for line in lines]

    # ---------------------------------------------------------------- reading

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def samples(self) -> np.ndarray:
        if self._samples is None:
            self._samples = np.load(self.folder / SAMPLES_FILE, mmap_mode="r")
        return self._samples

    def waveform(self, index: int) -> np.ndarray:
        """Utterance ``index`` as float32 in [-1, 1)."""
        start, stop = int(self.offsets[index]), int(self.offsets[index + 1])
        return self.samples[start:stop].astype(np.float32) / np.float32(INT16_SCALE)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_samples"] = None
        return state


class _Int16Reader:
    """``read`` then :func:`to_int16`, picklable for decoding processes."""

    def __init__(self, read: Callable[[Path], np.ndarray]):
        self.read = read

    def __call__(self, path: Path) -> tuple[np.ndarray, int]:
        return to_int16(self.read(path))


@contextlib.contextmanager
def _decoder(read: Callable[[Path], np.ndarray], workers: int, files: int
             ) -> Iterator[Callable[[Sequence[Path]], Iterable[tuple[np.ndarray, int]]]]:
    """``decode(paths)`` yields ``(int16 samples, clipped)`` in order, here or in ``workers`` processes."""
    convert = _Int16Reader(read)
    if workers <= 1 or files < PARALLEL_MIN_FILES:
        yield lambda paths: map(convert, paths)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the caller may hold torch/OpenMP threads that a forked child would deadlock on
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        def decode(paths: Sequence[Path]) -> Iterator[tuple[np.ndarray, int]]:
            # a window at a time, so decoded files never pile up in memory ahead of the writer
            window = workers * 256
            for start in range(0, len(paths), window):
                yield from pool.map(convert, paths[start:start + window], chunksize=32)

        yield decode
