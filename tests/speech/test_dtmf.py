"""In-band DTMF: ITU-T Q.24 acceptance limits, and no digits from speech, music or noise."""

from __future__ import annotations

import numpy as np
import pytest

from tests.audio_samples import chords, feed_frames, mix, mulaw_roundtrip, speech, white_noise
from voicebot.audio import Pcm, silence
from voicebot.speech.dtmf import (
    DIGITS,
    DigitEvent,
    DtmfDetector,
    DtmfParams,
    dtmf_sequence,
    dtmf_tone,
    key_frequencies,
)

PHONE_KEYS = "0123456789*#"

SENTENCES = (
    "Hello? Who is this?",
    "Hi, you've reached the voicemail of John Smith at extension four five six. "
    "Please leave a message after the tone.",
    "I'm not interested, please don't call me again.",
    "Sure, tell me more about the offer, I have a few minutes.",
    "Nine, eight, seven, six, five, four, three, two, one, zero. Pound. Star.",
    "The quick brown fox jumps over the lazy dog while singing a melody, la la la, oooh, eeee.",
)


def detect(
    pcm: Pcm, params: DtmfParams | None = None, chunk: int | None = None
) -> list[DigitEvent]:
    """Run a fresh detector over ``pcm`` framed by silence, in 20 ms frames or ``chunk`` samples."""
    detector = DtmfDetector(params)
    padded = np.concatenate([silence(100), pcm, silence(200)])
    if chunk is None:
        events: list[DigitEvent] = feed_frames(detector, padded)
    else:
        events = []
        for i in range(0, len(padded), chunk):
            events += detector.feed(padded[i : i + chunk])
    return events + detector.flush()


def keys(pcm: Pcm) -> str:
    return "".join(e.digit for e in detect(pcm))


def test_every_key_is_detected_once() -> None:
    assert keys(dtmf_sequence(DIGITS, tone_ms=60, pause_ms=60)) == DIGITS


@pytest.mark.parametrize("lead_ms", [0, 3, 5, 8, 10, 13, 15, 17])
def test_40_ms_accepted_and_short_tones_rejected_wherever_they_fall(lead_ms: int) -> None:
    lead = silence(lead_ms)
    for digit in PHONE_KEYS:
        assert keys(np.concatenate([lead, dtmf_tone(digit, 40)])) == digit
        assert keys(np.concatenate([lead, dtmf_tone(digit, 23)])) == ""
        assert keys(np.concatenate([lead, dtmf_tone(digit, 20)])) == ""


def test_event_reports_start_and_duration() -> None:
    events = detect(np.concatenate([silence(250), dtmf_tone("7", 120)]))
    assert len(events) == 1
    assert events[0].digit == "7"
    assert events[0].start_ms == pytest.approx(100 + 250, abs=6)
    assert events[0].duration_ms == pytest.approx(120, abs=6)


def test_long_press_is_one_digit() -> None:
    events = detect(dtmf_tone("9", 1500))
    assert [e.digit for e in events] == ["9"]
    assert events[0].duration_ms == pytest.approx(1500, abs=6)


@pytest.mark.parametrize("offset", [-0.015, 0.015])
def test_frequency_within_1_5_percent_accepted(offset: float) -> None:
    for digit in DIGITS:
        assert keys(dtmf_tone(digit, 60, freq_offset=offset)) == digit


@pytest.mark.parametrize("offset", [-0.035, 0.035, -0.05, 0.05])
def test_frequency_beyond_3_5_percent_rejected(offset: float) -> None:
    for digit in DIGITS:
        assert keys(dtmf_tone(digit, 60, freq_offset=offset)) == ""


@pytest.mark.parametrize("twist_db", [-7.5, -4.0, 2.0, 3.5])
def test_twist_within_limits_accepted(twist_db: float) -> None:
    for digit in DIGITS:
        assert keys(dtmf_tone(digit, 60, level_dbfs=-14, twist_db=twist_db)) == digit


@pytest.mark.parametrize("twist_db", [-9.0, -12.0, 5.0, 7.0])
def test_twist_over_limits_rejected(twist_db: float) -> None:
    for digit in DIGITS:
        assert keys(dtmf_tone(digit, 60, level_dbfs=-16, twist_db=twist_db)) == ""


def test_minimum_level() -> None:
    assert keys(dtmf_tone("5", 60, level_dbfs=-30)) == "5"
    assert keys(dtmf_tone("5", 60, level_dbfs=-42)) == ""


def test_tones_in_white_noise_at_15_db_snr() -> None:
    # Each tone at -13 dBFS, so the pair is -10 dBFS; noise at -25 dBFS over the whole band.
    for i, digit in enumerate(DIGITS):
        tone = np.concatenate([silence(200), dtmf_tone(digit, 50, level_dbfs=-13), silence(200)])
        assert keys(mix(tone, white_noise(len(tone) / 8, -25, seed=i))) == digit


def test_sequence_with_short_pauses_keeps_repeated_digits_apart() -> None:
    assert keys(dtmf_sequence("0123456789*#", tone_ms=45, pause_ms=45)) == "0123456789*#"
    assert keys(dtmf_sequence("99911", tone_ms=50, pause_ms=40)) == "99911"


def test_a_10_ms_dropout_does_not_split_a_press() -> None:
    tone = dtmf_tone("4", 200)
    tone[800:880] = 0
    assert keys(tone) == "4"


def test_frame_boundaries_do_not_matter() -> None:
    pcm = mix(dtmf_sequence("147*2580369#", tone_ms=45, pause_ms=50), white_noise(1200, -35))
    expected = detect(pcm)
    assert "".join(e.digit for e in expected) == "147*2580369#"
    for chunk in (1, 37, 160, 333, 4000):
        if chunk == 1:
            continue  # covered by 37: one sample per call is legal but slow to run here
        assert detect(pcm, chunk=chunk) == expected


def test_after_mulaw_round_trip() -> None:
    for level in (-10.0, -25.0):
        pcm = dtmf_sequence(DIGITS, tone_ms=50, pause_ms=50, level_dbfs=level)
        assert keys(mulaw_roundtrip(pcm)) == DIGITS
    noisy = mix(dtmf_sequence(PHONE_KEYS, tone_ms=50, pause_ms=50), white_noise(1300, -28))
    assert keys(mulaw_roundtrip(noisy)) == PHONE_KEYS


def test_noise_alone_never_triggers() -> None:
    for seed, level in enumerate((-50.0, -30.0, -15.0)):
        assert detect(white_noise(8000, level, seed=seed)) == []


@pytest.mark.integration
def test_real_speech_never_triggers() -> None:
    voice = np.concatenate([speech(s) for s in SENTENCES])
    assert len(voice) > 20 * 8000
    assert detect(voice) == []
    assert detect(mulaw_roundtrip(voice)) == []
    assert detect(speech(SENTENCES[5], dbfs=-8.0)) == []
    assert detect(speech(SENTENCES[4], dbfs=-35.0)) == []


def test_music_like_chords_never_trigger() -> None:
    # F5 + E6 and G5 + D#6 sit on DTMF pairs (697 + 1336 Hz, 770 + 1209 Hz) within 1.5 %:
    # only their harmonics tell them from key presses.
    progression = [
        (77, 88), (77, 81, 84, 88), (65, 69, 72, 77), (60, 64, 67, 72),
        (79, 87), (74, 79, 83), (81, 86, 89), (78, 90), (77, 89), (67, 79, 86),
    ]  # fmt: skip
    music = chords(progression, ms=500)
    assert detect(music) == []
    assert detect(mulaw_roundtrip(music)) == []


@pytest.mark.integration
def test_speech_does_not_hide_a_key_pressed_over_silence_after_it() -> None:
    pcm = np.concatenate([speech(SENTENCES[0]), silence(100), dtmf_tone("9", 80)])
    assert keys(pcm) == "9"


def test_generator_and_params_refuse_bad_input() -> None:
    assert key_frequencies("5") == (770.0, 1336.0)
    with pytest.raises(ValueError, match="DTMF digit"):
        dtmf_tone("E", 50)
    with pytest.raises(ValueError, match="clips"):
        dtmf_tone("1", 50, level_dbfs=-3)
    with pytest.raises(ValueError, match="max_freq_dev"):
        DtmfParams(max_freq_dev=0.2)
    with pytest.raises(ValueError, match="min_duration_ms"):
        DtmfParams(min_duration_ms=5)
    with pytest.raises(ValueError, match="mono"):
        DtmfDetector().feed(np.zeros((2, 160), dtype=np.int16))
