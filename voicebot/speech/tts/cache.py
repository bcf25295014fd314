"""Rendered speech on disk, so a prompt is synthesized once and every call plays the same audio.

Entries are keyed by a hash of engine + voice + text (and a format version), stored as 8 kHz
mono 16-bit WAV files (playable by any tool a reviewer has) and written atomically: a
reader sees a whole file or none, even with several workers rendering at once.

Only what every caller hears is cached: a prompt filled with a contact's data ("Hi Alice, ...")
is rendered in memory for its call and never written here (``render(..., keep=False)``, see
:mod:`voicebot.call.prompt_audio`), so the cache holds no personal data for erasure to miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import wave
from pathlib import Path

import numpy as np
import structlog

from voicebot.audio import SAMPLE_RATE, Pcm

FORMAT_VERSION = 1
"""Bumped when the stored audio would differ for the same key (e.g. resampling changes)."""

CACHE_DIR_ENV = "VOICEBOT_CACHE_DIR"

log = structlog.get_logger(__name__)


def default_cache_dir() -> Path:
    """``$VOICEBOT_CACHE_DIR/tts`` if set, else the user's cache dir (platformdirs)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured) / "tts"
    import platformdirs

    return Path(platformdirs.user_cache_dir("voicebot")) / "tts"


def cache_key(engine: str, voice: str, text: str) -> str:
    """A stable hex key for one rendering."""
    material = json.dumps([FORMAT_VERSION, engine, voice, text], ensure_ascii=False)
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class TtsCache:
    """A directory of rendered prompts, one WAV file per (engine, voice, text)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_cache_dir()

    def path_for(self, engine: str, voice: str, text: str) -> Path:
        """Where the rendering of ``text`` by ``engine``/``voice`` is (or would be) stored."""
        key = cache_key(engine, voice, text)
        return self.directory / key[:2] / f"{key}.wav"

    def get(self, engine: str, voice: str, text: str) -> Pcm | None:
        """The cached PCM, or None; a damaged entry is removed and counts as a miss."""
        path = self.path_for(engine, voice, text)
        try:
            with wave.open(str(path), "rb") as wav:
                if (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) != (
                    1,
                    2,
                    SAMPLE_RATE,
                ):
                    raise wave.Error("not 8 kHz mono 16-bit")
                data = wav.readframes(wav.getnframes())
        except FileNotFoundError:
            return None
        except (wave.Error, EOFError, OSError) as exc:
            log.warning("tts_cache_entry_damaged", path=str(path), error=str(exc))
            path.unlink(missing_ok=True)
            return None
        return np.frombuffer(data, dtype="<i2").astype(np.int16)

    def put(self, engine: str, voice: str, text: str, pcm: Pcm) -> Path:
        """Store PCM atomically (temp file + rename in the same directory)."""
        path = self.path_for(engine, voice, text)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".wav")
        try:
            with os.fdopen(fd, "wb") as raw, wave.open(raw, "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(SAMPLE_RATE)
                wav.writeframes(np.asarray(pcm, dtype="<i2").tobytes())
            os.replace(tmp_name, path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return path

    def __contains__(self, item: tuple[str, str, str]) -> bool:
        return self.path_for(*item).is_file()
