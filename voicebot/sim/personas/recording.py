"""Recordings as callers: a persona's ``play: FILE`` step, decoded once into engine audio.

Users test their flows with real recordings of their customers' answers, in whatever format
they have: FFmpeg (PyAV, already installed for aiortc) decodes WAV, MP3, Ogg/Opus, FLAC, M4A,
at any sample rate, mono or stereo. The result is the engine's mono 8 kHz int16, band-limited
to the telephone band like synthesized persona speech, so the bot hears what a phone line
would deliver.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voicebot.audio import SAMPLE_RATE, Pcm
from voicebot.speech.resample import telephone_band


class RecordingError(ValueError):
    """A recording that cannot be played: missing, not audio, or silent-empty."""


def load_recording(path: Path) -> Pcm:
    """The recording at ``path`` as engine audio (decoded once per file version).

    Raises:
        RecordingError: the file is missing or FFmpeg cannot decode audio from it.
    """
    try:
        stat = path.stat()
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _decoded(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _decoded(path: str, mtime_ns: int, size: int) -> Pcm:
    import av  # deferred: loading FFmpeg is for calls, not for reading a persona book

    chunks: list[npt.NDArray[Any]] = []
    try:
        with av.open(path) as container:
            streams = [s for s in container.streams if s.type == "audio"]
            if not streams:
                raise RecordingError(f"{path} holds no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(streams[0]):
                if not isinstance(frame, av.AudioFrame):
                    continue
                chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    except (av.FFmpegError, OSError) as exc:
        raise RecordingError(f"cannot decode {path} as audio: {exc}") from None
    if not chunks or sum(len(c) for c in chunks) == 0:
        raise RecordingError(f"{path} holds no audio samples")
    pcm = np.concatenate(chunks).astype(np.int16)
    return telephone_band(pcm)
