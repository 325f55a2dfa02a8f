"""Every kind of bad or unusual recording a night can bring, made from the sample calls."""

from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import numpy as np
import soundfile as sf

# file name -> expected outcome: "ok" (processed) or the failure stage and a word of the reason
EXPECTED: dict[str, tuple[str, str] | str] = {
    "corrupt0001_20261122T11:00_UTC.wav": ("decode", "not a readable audio file"),
    "empty0002_20261122T11:01_UTC.wav": ("decode", "empty file"),
    "textfile0003_20261122T11:02_UTC.wav": ("decode", "not a readable audio file"),
    "headercut0004_20261122T11:03_UTC.wav": ("decode", "not a readable audio file"),
    "mono0005_20261122T11:04_UTC.wav": ("audio", "mono recording"),
    "fourch0006_20261122T11:05_UTC.wav": ("audio", "4 channels"),
    "short0007_20261122T11:06_UTC.wav": ("audio", "shorter than 0.5 s"),
    "truncated0008_20261122T11:07_UTC.wav": "ok",
    "silentside0009_20261122T11:08_UTC.wav": "ok",
    "cd0010_20261122T11:09_UTC.wav": "ok",
    "studio0011_20261122T11:10_UTC.wav": "ok",
    "lossless0012_20261122T11:11_UTC.flac": "ok",
    "Anruf mit Überlänge 0013.wav": "ok",
    # hostile headers: judged before a sample is decoded (a 1 Hz header made 20,000+ s of audio and killed workers)
    "onehertz0014_20261122T11:12_UTC.wav": ("audio", "sample rate 1 Hz"),
    "hugerate0015_20261122T11:13_UTC.wav": ("audio", "sample rate 2,147,483,647 Hz"),
    "endless0016_20261122T11:14_UTC.flac": ("audio", "longer than the 240-minute limit"),
}


def _resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    t = np.arange(int(len(x) * target / rate)) / target
    return np.stack([np.interp(t, np.arange(len(x)) / rate, x[:, c]) for c in range(x.shape[1])], axis=1)


def write_bad_recordings(folder: Path, good: Path) -> None:
    """Write one file per entry of EXPECTED into ``folder``, from the good call ``good``."""
    audio, rate = sf.read(good, dtype="float32", always_2d=True)
    raw = good.read_bytes()
    files = dict(zip(EXPECTED, range(len(EXPECTED)), strict=True))
    names = list(files)
    rng = np.random.default_rng(7)
    (folder / names[0]).write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    (folder / names[1]).write_bytes(b"")
    (folder / names[2]).write_text("this is not audio, it is a note someone saved as .wav\n")
    (folder / names[3]).write_bytes(raw[:30])
    sf.write(folder / names[4], audio[:, 0], rate)
    sf.write(folder / names[5], np.concatenate([audio, audio], axis=1), rate)
    sf.write(folder / names[6], audio[: int(rate * 0.3)], rate)
    (folder / names[7]).write_bytes(raw[: len(raw) // 2])  # header promises twice what is there
    silent = audio.copy()
    silent[:, 0] = 0.0
    sf.write(folder / names[8], silent, rate)
    sf.write(folder / names[9], _resample(audio, rate, 44100), 44100)
    sf.write(folder / names[10], _resample(audio, rate, 48000), 48000)
    sf.write(folder / names[11], audio, rate, format="FLAC")
    sf.write(folder / names[12], audio, rate)
    (folder / names[13]).write_bytes(_wav_rate(raw[:240_000], 1))  # 240 KB that a 1 Hz header makes 16 hours
    (folder / names[14]).write_bytes(_wav_rate(raw, 2**31 - 1))
    (folder / names[15]).write_bytes(_flac_frames(audio, rate, 2**36 - 1))  # 2,386 hours by its header


def _wav_rate(wav: bytes, rate: int) -> bytes:
    """A canonical 16-bit stereo WAV whose fmt chunk claims ``rate`` (and the byte rate that goes with it)."""
    assert wav[:4] == b"RIFF" and wav[12:16] == b"fmt "
    return wav[:24] + struct.pack("<II", rate, rate * 4 % 2**32) + wav[32:]


def _flac_frames(audio: np.ndarray, rate: int, frames: int) -> bytes:
    """A FLAC file whose STREAMINFO claims ``frames`` samples per channel (the decoder would allocate them all)."""
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format="FLAC")
    data = bytearray(buffer.getvalue())
    assert data[:4] == b"fLaC"
    bits = int.from_bytes(data[18:26], "big")  # rate (20 bits), channels (3), bits per sample (5), frames (36)
    data[18:26] = ((bits & ~(2**36 - 1)) | frames).to_bytes(8, "big")
    return bytes(data)


def fingerprint(root: Path) -> dict[str, tuple[str, int]]:
    """Content hash and mtime of every file below ``root``: source files must never change."""
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
