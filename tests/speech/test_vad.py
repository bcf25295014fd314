"""Voice activity: fast starts for barge-in, end of speech after the trailing silence, no speech
from noise or silence. Speech is real (Piper), timing is checked in audio time."""

from __future__ import annotations

import numpy as np
import pytest

from tests.audio_samples import (
    feed_frames,
    mix,
    pink_noise,
    speech,
    voiced_span_ms,
    white_noise,
)
from voicebot.audio import Pcm, silence
from voicebot.speech.vad import Segment, Vad, VadEvent, VadEventKind, VadParams

HELLO = "Hello?"
GREETING = (
    "Hi, you've reached the voicemail of John Smith at extension four five six. "
    "Please leave a message after the tone."
)
REFUSAL = "I'm not interested."


def run(pcm: Pcm, params: VadParams | None = None) -> list[VadEvent]:
    vad = Vad(params)
    events: list[VadEvent] = feed_frames(vad, pcm)
    return events + vad.flush()


def segments(events: list[VadEvent]) -> list[Segment]:
    return [e.segment for e in events if e.segment is not None]


@pytest.mark.integration
def test_hello_start_and_end_are_timed() -> None:
    hello = speech(HELLO)
    begin, end = voiced_span_ms(hello, lead_ms=500)
    events = run(np.concatenate([silence(500), hello, silence(1500)]))
    assert [e.kind for e in events] == [VadEventKind.START, VadEventKind.END]
    start, stop = events
    assert start.at_ms == pytest.approx(begin, abs=60)
    assert start.reported_ms - begin <= 200  # fast enough for barge-in
    assert stop.at_ms == pytest.approx(end, abs=80)
    assert stop.reported_ms == pytest.approx(stop.at_ms + 600, abs=20)
    assert stop.segment == Segment(start.at_ms, stop.at_ms)


@pytest.mark.integration
def test_a_long_greeting_with_short_pauses_is_one_utterance() -> None:
    greeting = speech(GREETING)
    begin, end = voiced_span_ms(greeting, lead_ms=1000)
    found = segments(run(np.concatenate([silence(1000), greeting, silence(1000)])))
    assert len(found) == 1
    assert found[0].start_ms == pytest.approx(begin, abs=60)
    assert found[0].end_ms == pytest.approx(end, abs=80)


@pytest.mark.integration
def test_pauses_longer_than_end_silence_split_utterances() -> None:
    hello, refusal = speech(HELLO), speech(REFUSAL)
    apart = np.concatenate([silence(300), hello, silence(1200), refusal, silence(800)])
    assert len(segments(run(apart))) == 2
    close = np.concatenate([silence(300), hello, silence(300), refusal, silence(800)])
    assert len(segments(run(close))) == 1
    assert len(segments(run(close, VadParams(end_silence_ms=200)))) == 2


@pytest.mark.parametrize("noise_dbfs", [-60.0, -45.0, -35.0])
@pytest.mark.integration
def test_speech_in_line_noise(noise_dbfs: float) -> None:
    greeting = speech(GREETING)  # about -20 dBFS while voiced
    begin, end = voiced_span_ms(greeting, lead_ms=1000)
    clean = np.concatenate([silence(1000), greeting, silence(1000)])
    for noise in (white_noise, pink_noise):
        found = segments(run(mix(clean, noise(len(clean) / 8, noise_dbfs, seed=3))))
        assert len(found) == 1
        assert found[0].start_ms == pytest.approx(begin, abs=100)
        assert found[0].end_ms == pytest.approx(end, abs=150)


@pytest.mark.integration
def test_speech_from_the_first_frame_is_heard() -> None:
    hello = speech(HELLO)
    found = segments(run(np.concatenate([hello, silence(1000)])))
    assert len(found) == 1
    assert found[0].start_ms <= 60


@pytest.mark.parametrize(
    "audio",
    [
        silence(5000),
        white_noise(5000, -70),
        white_noise(5000, -30),
        white_noise(5000, -15),
        pink_noise(5000, -40),
        pink_noise(5000, -20),
    ],
    ids=["digital-silence", "hiss", "white-30", "white-15", "pink-40", "pink-20"],
)
def test_no_speech_in_noise_or_silence(audio: Pcm) -> None:
    assert run(audio) == []


def test_line_noise_that_rises_suddenly_is_not_speech() -> None:
    audio = np.concatenate([white_noise(2000, -60, seed=1), white_noise(4000, -35, seed=2)])
    assert run(audio) == []
    audio = np.concatenate([pink_noise(2000, -60, seed=1), pink_noise(4000, -35, seed=2)])
    assert run(audio) == []


@pytest.mark.integration
def test_chunking_does_not_change_the_result() -> None:
    audio = mix(
        np.concatenate([silence(400), speech(HELLO), silence(900), speech(REFUSAL), silence(700)]),
        white_noise(4000, -50),
    )
    expected = run(audio)
    assert len(segments(expected)) == 2
    for chunk in (37, 333, 1600):
        vad = Vad()
        got: list[VadEvent] = []
        for i in range(0, len(audio), chunk):
            got += vad.feed(audio[i : i + chunk])
        assert got + vad.flush() == expected


@pytest.mark.integration
def test_state_for_other_detectors() -> None:
    vad = Vad()
    vad.feed(white_noise(1000, -50))
    assert not vad.in_speech
    assert vad.noise_floor_dbfs < -50
    assert vad.now_ms == 1000
    vad.feed(speech(REFUSAL)[:4000])
    assert vad.in_speech


def test_bad_params_and_frames_are_refused() -> None:
    with pytest.raises(ValueError, match="start_frames"):
        VadParams(start_frames=5, start_window=4)
    with pytest.raises(ValueError, match="keep_margin_db"):
        VadParams(keep_margin_db=12, start_margin_db=10)
    with pytest.raises(ValueError, match="mono"):
        Vad().feed(np.zeros((160, 2), dtype=np.int16))


@pytest.mark.integration
def test_a_complete_answer_ends_after_a_shorter_silence() -> None:
    refusal = speech(REFUSAL)
    audio = np.concatenate([silence(500), refusal, silence(1000), refusal, silence(1000)])
    vad = Vad()
    ends: list[VadEvent] = []
    for i in range(0, len(audio), 160):
        for event in vad.feed(audio[i : i + 160]):
            if event.kind is VadEventKind.START and not ends:
                vad.expect_end(300)  # the partial words already make an answer
            elif event.kind is VadEventKind.END:
                ends.append(event)
    first, second = ends
    assert first.reported_ms - first.at_ms == pytest.approx(300, abs=20)
    assert second.reported_ms - second.at_ms == pytest.approx(600, abs=20)  # reset per utterance
    with pytest.raises(ValueError, match="end silence"):
        vad.expect_end(5)
