"""Answering-machine detection on real synthesized greetings: people say "Hello?" and wait,
machines talk for seconds and then beep."""

from __future__ import annotations

import numpy as np
import pytest

from tests.audio_samples import (
    chords,
    feed_frames,
    mix,
    mulaw_roundtrip,
    speech,
    voiced_span_ms,
    white_noise,
)
from voicebot.audio import SAMPLE_RATE, Pcm, silence
from voicebot.call.amd import (
    AmdParams,
    AmdResult,
    AmdVerdict,
    AnsweringMachineDetector,
    Beep,
    BeepDetector,
    BeepParams,
)
from voicebot.speech.dtmf import dtmf_sequence

GREETING = (
    "Hi, you've reached the voicemail of John Smith at extension four five six. "
    "Please leave a message after the tone."
)


def tone(freq_hz: float, ms: float, dbfs: float = -15.0) -> Pcm:
    t = np.arange(round(SAMPLE_RATE * ms / 1000)) / SAMPLE_RATE
    wave = 32768 * np.sqrt(2) * 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq_hz * t)
    pcm: Pcm = np.round(wave).astype(np.int16)
    return pcm


def amd(pcm: Pcm, params: AmdParams | None = None) -> list[AmdResult]:
    results: list[AmdResult] = feed_frames(AnsweringMachineDetector(params), pcm)
    return results


def beeps(pcm: Pcm, params: BeepParams | None = None) -> list[Beep]:
    detector = BeepDetector(params)
    found: list[Beep] = feed_frames(detector, pcm)
    return found + detector.flush()


@pytest.mark.parametrize("noise_dbfs", [None, -45.0])
@pytest.mark.parametrize("text", ["Hello?", "Yes, hello?"])
@pytest.mark.integration
def test_hello_then_silence_is_human(text: str, noise_dbfs: float | None) -> None:
    hello = speech(text)
    _, end = voiced_span_ms(hello, lead_ms=400)
    audio = np.concatenate([silence(400), hello, silence(3000)])
    if noise_dbfs is not None:
        audio = mulaw_roundtrip(mix(audio, white_noise(len(audio) / 8, noise_dbfs)))
    results = amd(audio)
    assert len(results) == 1
    result = results[0]
    assert result.verdict is AmdVerdict.HUMAN
    assert result.final
    assert "silence" in result.reason
    assert result.decided_ms == pytest.approx(end + 800, abs=100)
    assert 0 < result.greeting_ms < 1500


@pytest.mark.integration
def test_voicemail_greeting_then_beep_is_machine_with_the_beep_time() -> None:
    greeting = speech(GREETING)
    assert len(greeting) > 5 * SAMPLE_RATE
    beep_at = 500 + 1000 * len(greeting) / SAMPLE_RATE + 400
    audio = np.concatenate([silence(500), greeting, silence(400), tone(1000, 300), silence(1500)])
    early, final = amd(audio)
    assert early.verdict is AmdVerdict.MACHINE
    assert not early.final
    assert early.beep is None
    assert early.decided_ms <= 3500
    assert "greeting" in early.reason or "words" in early.reason
    assert final.verdict is AmdVerdict.MACHINE
    assert final.final
    assert final.beep is not None
    assert final.beep.start_ms == pytest.approx(beep_at, abs=20)
    assert final.beep.end_ms == pytest.approx(beep_at + 300, abs=20)
    assert final.beep.freq_hz == pytest.approx(1000, abs=5)
    assert final.beep.end_ms <= final.decided_ms <= final.beep.end_ms + 60  # speak right after


@pytest.mark.integration
def test_greeting_and_beep_through_mulaw_and_noise() -> None:
    clean = np.concatenate(
        [silence(300), speech(GREETING), silence(300), tone(1400, 200, -20), silence(1000)]
    )
    audio = mulaw_roundtrip(mix(clean, white_noise(len(clean) / 8, -45, seed=7)))
    results = amd(audio)
    assert [r.verdict for r in results] == [AmdVerdict.MACHINE, AmdVerdict.MACHINE]
    assert results[-1].beep is not None
    assert results[-1].beep.freq_hz == pytest.approx(1400, abs=10)


@pytest.mark.integration
def test_beep_before_the_verdict_decides_at_once() -> None:
    audio = np.concatenate([silence(300), speech("Leave a message."), tone(850, 500), silence(500)])
    results = amd(audio)
    assert len(results) == 1
    assert results[0].verdict is AmdVerdict.MACHINE
    assert results[0].final
    assert results[0].reason.startswith("beep")


@pytest.mark.integration
def test_greeting_without_beep_is_final_after_silence() -> None:
    audio = np.concatenate([silence(500), speech(GREETING), silence(4000)])
    early, final = amd(audio)
    assert early.verdict is final.verdict is AmdVerdict.MACHINE
    assert final.final
    assert final.beep is None
    assert "no beep" in final.reason
    # Without waiting for a beep the first machine verdict is final.
    only = amd(audio, AmdParams(wait_for_beep=False))
    assert len(only) == 1
    assert only[0].verdict is AmdVerdict.MACHINE
    assert only[0].final


@pytest.mark.integration
def test_many_words_decide_before_the_greeting_is_long() -> None:
    # With the length rule out of the way, the word count alone tells the machine.
    params = AmdParams(max_greeting_ms=8000, max_decision_ms=9000, wait_for_beep=False)
    machine = amd(np.concatenate([silence(300), speech(GREETING), silence(2000)]), params)
    assert [r.verdict for r in machine] == [AmdVerdict.MACHINE]
    assert machine[0].words == 4
    assert "words" in machine[0].reason
    human = amd(np.concatenate([silence(300), speech("Hello? Hello?"), silence(2000)]), params)
    assert [r.verdict for r in human] == [AmdVerdict.HUMAN]
    assert human[0].words <= 3


@pytest.mark.parametrize(
    "audio",
    [silence(6000), white_noise(6000, -40), mulaw_roundtrip(white_noise(6000, -55))],
    ids=["silence", "noise", "mulaw-hiss"],
)
def test_long_silence_is_unknown(audio: Pcm) -> None:
    results = amd(audio)
    assert len(results) == 1
    assert results[0].verdict is AmdVerdict.UNKNOWN
    assert results[0].decided_ms == 2500
    assert "no speech" in results[0].reason


@pytest.mark.integration
def test_speech_too_late_to_judge_is_unknown_at_the_time_limit() -> None:
    audio = np.concatenate([silence(2400), speech("Hello? Who is it?"), silence(2000)])
    results = amd(audio)
    assert len(results) == 1
    assert results[0].verdict is AmdVerdict.UNKNOWN
    assert results[0].decided_ms == 3500
    assert "undecided" in results[0].reason


@pytest.mark.integration
def test_nothing_after_the_final_result() -> None:
    detector = AnsweringMachineDetector()
    decided = feed_frames(detector, np.concatenate([silence(400), speech("Hello?"), silence(2000)]))
    assert len(decided) == 1
    assert feed_frames(detector, speech(GREETING)) == []
    assert detector.result == decided[0]


def test_beep_timing_frequency_and_length_limits() -> None:
    for freq, ms, lead in ((440.0, 150.0, 517), (1000.0, 250.0, 1003), (1850.0, 900.0, 777)):
        found = beeps(np.concatenate([silence(lead), tone(freq, ms), silence(300)]))
        assert len(found) == 1
        assert found[0].start_ms == pytest.approx(lead, abs=12)
        assert found[0].end_ms == pytest.approx(lead + ms, abs=12)
        assert found[0].freq_hz == pytest.approx(freq, rel=0.005)
    assert beeps(np.concatenate([silence(500), tone(1000, 100), silence(300)])) == []
    assert beeps(np.concatenate([silence(500), tone(300, 400), silence(300)])) == []
    assert beeps(np.concatenate([silence(500), tone(2600, 400), silence(300)])) == []
    assert beeps(np.concatenate([silence(500), tone(1000, 6000), silence(300)])) == []


@pytest.mark.integration
def test_no_beep_in_speech_music_dtmf_or_noise() -> None:
    voice = np.concatenate(
        [speech(GREETING), speech("The quick brown fox sings a melody, la la la, oooh, eeee.")]
    )
    assert beeps(voice) == []
    assert beeps(mulaw_roundtrip(voice)) == []
    assert beeps(chords([(77, 88), (77, 81, 84, 88), (65, 69, 72, 77)], ms=500)) == []
    assert beeps(dtmf_sequence("1234567890", tone_ms=300, pause_ms=50)) == []
    assert beeps(white_noise(4000, -25)) == []


def test_beep_in_noise_and_in_chunks() -> None:
    audio = mix(
        np.concatenate([silence(500), tone(1000, 250, -25), silence(300)]), white_noise(1050, -45)
    )
    expected = beeps(audio)
    assert len(expected) == 1
    detector = BeepDetector()
    got: list[Beep] = []
    for i in range(0, len(audio), 77):
        got += detector.feed(audio[i : i + 77])
    assert got + detector.flush() == expected


def test_bad_params_are_refused() -> None:
    with pytest.raises(ValueError, match="max_words"):
        AmdParams(max_words=0)
    with pytest.raises(ValueError, match="max_decision_ms"):
        AmdParams(initial_silence_ms=4000, max_decision_ms=3500)
    with pytest.raises(ValueError, match="beep band"):
        BeepParams(min_hz=2000, max_hz=400)
    with pytest.raises(ValueError, match="mono"):
        AnsweringMachineDetector().feed(np.zeros((2, 160), dtype=np.int16))


@pytest.mark.integration
async def test_no_packets_after_the_greeting_count_as_silence() -> None:
    """A far end that stops sending packets after its greeting: the bot must not wait in dead
    air for the last timeout, the missing packets are silence and decide "no beep"."""
    from voicebot.call.amd.watch import MachineWatch

    now = [100.0]
    watch = MachineWatch(AnsweringMachineDetector(), clock=lambda: now[0])
    greeting = np.concatenate([silence(500), speech(GREETING)])
    watch.start()
    feed_frames(watch, greeting)
    assert watch.result is not None and watch.result.verdict is AmdVerdict.MACHINE
    assert not watch.result.final
    now[0] += len(greeting) / SAMPLE_RATE + 3.5  # then 3.5 s without a single packet
    final = await watch.wait_final(timeout=2.0)
    assert final is not None and final.final
    assert final.verdict is AmdVerdict.MACHINE
    assert "no beep after" in final.reason


async def test_no_packets_at_all_is_initial_silence() -> None:
    from voicebot.call.amd.watch import MachineWatch

    now = [5.0]
    watch = MachineWatch(AnsweringMachineDetector(), clock=lambda: now[0])
    watch.start()
    now[0] += 3.0
    final = await watch.wait_final(timeout=1.0)
    assert final is not None and final.verdict is AmdVerdict.UNKNOWN
    assert "no speech" in final.reason


@pytest.mark.integration
def test_a_stalled_event_loop_does_not_cut_a_greeting_in_two() -> None:
    """Under load the loop stalls for a second just after the machine's first word; its
    packets queue and arrive together afterwards. The stall is not silence: counting it as
    such made "Hi," + 1 s look like a person who answered and waited (rule 4: human)."""
    from voicebot.audio import FRAME_SAMPLES
    from voicebot.call.amd.watch import MachineWatch

    now = [50.0]
    watch = MachineWatch(AnsweringMachineDetector(), clock=lambda: now[0])
    greeting = np.concatenate([silence(500), speech(GREETING)])
    start, _ = voiced_span_ms(greeting)
    stall_at = round((start + 300) / 20)  # frames: 300 ms into the first word
    frames = [greeting[i : i + FRAME_SAMPLES] for i in range(0, len(greeting), FRAME_SAMPLES)]
    watch.start()
    for index, frame in enumerate(frames):
        if index == stall_at:
            now[0] += 1.0  # the loop is blocked: no tick, no packet
            watch.fill_gap()  # the first tick after the stall
            queued = frames[index : index + 50]  # the second's packets, delivered at once
            for late in queued:
                watch.feed(late)
            continue
        if stall_at < index < stall_at + 50:
            continue
        now[0] += 0.02
        watch.feed(frame)
        watch.fill_gap()
    assert watch.result is not None
    assert watch.result.verdict is AmdVerdict.MACHINE, watch.result.reason
