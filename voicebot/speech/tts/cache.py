"""Rendered speech on disk, so a prompt is synthesized once and every call plays the same audio.

Entries are keyed by a hash of engine + voice + text (and a format version), stored as 8 kHz
mono 16-bit WAV files (playable by any tool a reviewer has) and written atomically: a
reader sees a whole file or none, even with several workers rendering at once.

Only what every caller hears is cached: a prompt filled with a contact's data ("Hi Alice, ...")
is rendered in memory for its call and never written here (``render(..., keep=False)``, see
:mod:`voicebot.call.prompt_audio`), so the cache holds no personal data for erasure to miss.
Entries live under ``v2/``; entries an earlier version wrote directly in the directory (which
could be personalised) are removed the first time a process uses the cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import wave
from pathlib import Path

import numpy as np
import structlog

from voicebot.audio import SAMPLE_RATE, Pcm

FORMAT_VERSION = 1
"""Bumped when the stored audio would differ for the same key (e.g. resampling changes)."""

LAYOUT = "v2"
"""Sub-directory of the current entries (v1 kept personalised renders, see the module doc)."""

_LEGACY_DIR = re.compile(r"[0-9a-f]{2}")
_LEGACY_FILE = re.compile(r"[0-9a-f]{64}\.wav")
_swept: set[Path] = set()

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
        self._sweep_legacy()
        key = cache_key(engine, voice, text)
        return self.directory / LAYOUT / key[:2] / f"{key}.wav"

    def _sweep_legacy(self) -> None:
        """Remove entries of the old layout once per process: they may be personalised."""
        if self.directory in _swept:
            return
        _swept.add(self.directory)
        try:
            folders = [d for d in self.directory.iterdir() if _LEGACY_DIR.fullmatch(d.name)]
        except FileNotFoundError:
            return
        removed = 0
        for folder in folders:
            for entry in folder.glob("*.wav"):
                if _LEGACY_FILE.fullmatch(entry.name):
                    entry.unlink(missing_ok=True)
                    removed += 1
            with contextlib.suppress(OSError):  # not empty: something else lives there
                folder.rmdir()
        if removed:
            log.info("tts_cache_legacy_removed", entries=removed, directory=str(self.directory))

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
