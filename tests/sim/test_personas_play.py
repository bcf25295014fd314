"""Recordings as callers: the ``play: FILE`` persona step, from the file to a real call."""

from __future__ import annotations

import asyncio
import json
import wave
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from tests.audio_samples import peak_hz
from tests.paths import FLOWS
from voicebot.audio import SAMPLE_RATE
from voicebot.cli import cli
from voicebot.sim.personas.book import load_personas
from voicebot.sim.personas.model import Step
from voicebot.sim.personas.recording import RecordingError, load_recording
from voicebot.speech.resample import resample
from voicebot.speech.tts.piper import PiperSynthesizer


def _write_wav(path: Path, channels: np.ndarray, rate: int) -> None:
    """Interleaved int16 frames (samples, channels) as a WAV file at ``rate``."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(np.ascontiguousarray(channels, dtype=np.int16).tobytes())


def _sine(hz: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.round(9000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_a_stereo_wav_at_any_rate_becomes_engine_audio(tmp_path: Path) -> None:
    left = _sine(1000, 0.5, 44100)
    _write_wav(tmp_path / "a.wav", np.stack([left, np.zeros_like(left)], axis=1), 44100)
    pcm = load_recording(tmp_path / "a.wav")
    assert pcm.dtype == np.int16 and pcm.ndim == 1
    assert abs(len(pcm) - SAMPLE_RATE // 2) <= 80  # 0.5 s at 8 kHz, give or take a frame
    assert peak_hz(pcm) == pytest.approx(1000, abs=20)


def test_a_compressed_mono_file_decodes_too(tmp_path: Path) -> None:
    path = tmp_path / "a.flac"
    samples = _sine(600, 0.6, 16000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("flac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    pcm = load_recording(path)
    assert abs(len(pcm) - round(0.6 * SAMPLE_RATE)) <= 400
    assert peak_hz(pcm) == pytest.approx(600, abs=20)


def test_a_step_plays_or_says_never_both() -> None:
    assert Step(play="answers/no.wav").play == "answers/no.wav"
    with pytest.raises(ValidationError, match="exactly one key"):
        Step(play="a.wav", say="No thanks")


def test_a_book_resolves_recordings_from_its_folder_and_names_bad_ones(tmp_path: Path) -> None:
    (tmp_path / "answers").mkdir()
    _write_wav(tmp_path / "answers" / "no.wav", _sine(440, 0.2, 8000).reshape(-1, 1), 8000)
    (tmp_path / "book.yaml").write_text(
        "personas:\n  caller:\n    script:\n      - wait_for_bot: 1\n"
        "      - play: answers/no.wav\n",
        encoding="utf-8",
    )
    persona = load_personas(tmp_path / "book.yaml")["caller"]
    assert persona.script[1].play == str((tmp_path / "answers" / "no.wav").resolve())

    (tmp_path / "bad.yaml").write_text(
        "personas:\n  a:\n    script:\n      - play: missing.wav\n"
        "  b:\n    script:\n      - play: book.yaml\n",
        encoding="utf-8",
    )
    from voicebot.yamlsource import SourceErrors

    with pytest.raises(SourceErrors) as caught:
        load_personas(tmp_path / "bad.yaml")
    message = str(caught.value)
    assert "bad.yaml:4:9: personas.a.script[0].play: cannot read" in message
    assert "bad.yaml:7:9: personas.b.script[0].play: cannot decode" in message
    with pytest.raises(RecordingError, match=r"no audio|cannot decode"):
        load_recording(tmp_path / "book.yaml")


@pytest.mark.integration
def test_a_recorded_refusal_is_heard_on_a_loopback_call(tmp_path: Path) -> None:
    """`voicebot call --personas BOOK --persona NAME` with a recording instead of `say`.

    The recording is Piper's voice pitched up 6 % (played faster, as a different speaker
    would sound), written as a 46.7 kHz stereo WAV: the bot's real recognizer must hear it
    through real WebRTC media. An extra --contact value the flow does not use is ignored.
    """
    speech = asyncio.run(PiperSynthesizer().render("No, I'm not interested, thank you."))
    wide = resample(speech, SAMPLE_RATE, 44100)
    stereo = np.stack([wide, (wide * 0.8).astype(np.int16)], axis=1)
    (tmp_path / "answers").mkdir()
    _write_wav(tmp_path / "answers" / "no.wav", stereo, round(44100 * 1.06))
    book = tmp_path / "book.yaml"
    book.write_text(
        "personas:\n  recorded_refusal:\n    ring_seconds: 0.5\n    script:\n"
        "      - wait_for_bot: 1\n      - play: answers/no.wav\n",
        encoding="utf-8",
    )
    args = ["call", "+12025550143", "--flow", str(FLOWS / "satisfaction_survey.yaml")]
    args += ["--personas", str(book), "--persona", "recorded_refusal", "--no-gate", "--json"]
    args += ["--contact", "name=Alex", "--contact", "shoe_size=44"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["outcome"] == "refused", report
    heard = [t["text"] for t in report["transcript"] if t["who"] != "bot"]
    assert any("interested" in text for text in heard), heard
