"""Headless Chromium for the browser tests: Debian's package, flags that keep it on this machine.

Chromium is installed with apt-get when missing; if that fails the test fails (it never skips).
Playwright's own browser download is not used.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.system_parts import install_or_fail

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""A quiet browser: no first-run UI, no update or sync traffic, no QUIC."""

MEDIA_FLAGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
"""WebRTC on loopback: a fake microphone granted without a prompt, playback without a click,
127.0.0.1 among the ICE candidates, and real addresses instead of mDNS ``.local`` names."""


def fake_audio_flag(wav: Path) -> str:
    """The flag that makes the fake microphone play ``wav`` (16-bit PCM) in a loop."""
    return f"--use-file-for-fake-audio-capture={wav}"


def ensure_chromium() -> str:
    """The Chromium executable, installed with apt-get first if missing (fails, never skips)."""
    if not Path(CHROMIUM).exists():
        install_or_fail({"chromium": "chromium"})
    if not Path(CHROMIUM).exists():
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} is missing")
    return CHROMIUM


SCREENSHOTS_ENV = "VOICEBOT_SCREENSHOTS"
"""Set to a folder (``docs/screenshots`` via ``scripts/refresh-screenshots``) to keep the
browser tests' screenshots; otherwise they go to the test's temporary folder, so running the
suite never changes the checkout."""


def screenshot_dir(tmp_path: Path) -> Path:
    """Where a browser test writes its screenshots: ``$VOICEBOT_SCREENSHOTS`` or ``tmp_path``."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(chosen) if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_tone(path: Path, hz: float, seconds: float, rate: int = 48000) -> None:
    """A 16-bit mono WAV the fake microphone plays in a loop."""
    t = np.arange(int(rate * seconds)) / rate
    samples = (0.9 * 32767 * np.sin(2 * np.pi * hz * t)).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
