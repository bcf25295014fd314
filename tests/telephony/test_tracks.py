"""The outbound track's pacing, playback and barge-in; the inbound reader's conversion."""

from __future__ import annotations

import asyncio
import fractions
import time

import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from voicebot.audio import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from voicebot.telephony.tracks import InboundReader, OutboundTrack, PlayResult, dtmf_tones


def _ramp(frames: int) -> Pcm:
    return np.arange(frames * FRAME_SAMPLES, dtype=np.int16)


def _tone(freq: float, ms: int, rate: int = SAMPLE_RATE) -> Pcm:
    t = np.arange(rate * ms // 1000) / rate
    return (8000 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def _peak_hz(pcm: Pcm, rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    return float(np.fft.rfftfreq(len(pcm), 1 / rate)[int(np.argmax(spectrum))])


async def _start_play(
    track: OutboundTrack, pcm: Pcm, interruptible: bool = True
) -> asyncio.Task[PlayResult]:
    task = asyncio.create_task(track.play(pcm, interruptible))
    await asyncio.sleep(0)  # queued before the next recv
    return task


async def _samples(track: OutboundTrack, n: int) -> list[Pcm]:
    return [
        np.asarray((await track.recv()).to_ndarray(), dtype=np.int16).reshape(-1) for _ in range(n)
    ]


async def test_nothing_is_sent_before_open() -> None:
    track = OutboundTrack()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(track.recv(), 0.1)
    track.open()
    frame = await track.recv()
    assert (frame.sample_rate, frame.samples, frame.format.name) == (SAMPLE_RATE, 160, "s16")
    track.stop()


async def test_stop_wakes_a_recv_waiting_for_the_answer() -> None:
    track = OutboundTrack()
    waiting = asyncio.create_task(track.recv())
    await asyncio.sleep(0)
    track.stop()
    with pytest.raises(MediaStreamError):
        await waiting


async def test_frames_are_paced_at_20_ms_with_continuous_timestamps() -> None:
    track = OutboundTrack()
    track.open()
    start = time.monotonic()
    frames = [await track.recv() for _ in range(11)]
    elapsed = time.monotonic() - start
    assert [f.pts for f in frames] == [i * FRAME_SAMPLES for i in range(11)]
    assert frames[0].time_base == fractions.Fraction(1, SAMPLE_RATE)
    assert elapsed >= 10 * 0.020 - 0.002  # never faster than real time
    track.stop()


async def test_play_sends_the_pcm_then_silence_and_reports_it_complete() -> None:
    track = OutboundTrack()
    track.open()
    pcm = _ramp(3)[: 3 * FRAME_SAMPLES - 40]  # a partial last frame is padded
    play = await _start_play(track, pcm)
    out = await _samples(track, 4)
    result = await play
    assert result.completed and result.played_ms == pytest.approx(1000 * len(pcm) / SAMPLE_RATE)
    assert np.array_equal(np.concatenate(out)[: len(pcm)], pcm)
    assert not np.any(np.concatenate(out)[len(pcm) :])
    track.stop()


async def test_barge_in_stops_interruptible_playback_at_once() -> None:
    track = OutboundTrack()
    track.open()
    play = await _start_play(track, _ramp(50) + 1)
    await _samples(track, 3)
    track.interrupt()
    result = await play
    assert not result.completed and result.played_ms == 60.0
    assert not np.any(np.concatenate(await _samples(track, 2)))
    track.stop()


async def test_non_interruptible_playback_survives_barge_in() -> None:
    track = OutboundTrack()
    track.open()
    disclosure = await _start_play(track, _ramp(3) + 1, interruptible=False)
    await _samples(track, 1)
    track.interrupt()
    await _samples(track, 2)
    assert (await disclosure).completed


async def test_cancelling_play_drops_the_rest() -> None:
    track = OutboundTrack()
    track.open()
    play = await _start_play(track, _ramp(50) + 1)
    await _samples(track, 2)
    play.cancel()
    with pytest.raises(asyncio.CancelledError):
        await play
    assert not track.playing
    assert not np.any(np.concatenate(await _samples(track, 1)))
    track.stop()


async def test_stop_ends_pending_playback_and_recv() -> None:
    track = OutboundTrack()
    track.open()
    play = await _start_play(track, _ramp(50))
    await asyncio.sleep(0)
    track.stop()
    assert not (await play).completed
    with pytest.raises(MediaStreamError):
        await track.recv()
    assert not (await track.play(_ramp(1))).completed


async def test_live_frames_play_in_order_and_a_backlog_is_trimmed() -> None:
    track = OutboundTrack()
    track.feed(np.full(FRAME_SAMPLES, 9, dtype=np.int16))  # before open: dropped
    track.open()
    for value in range(1, 11):
        track.feed(np.full(FRAME_SAMPLES, value, dtype=np.int16))
    out = [int(f[0]) for f in await _samples(track, 5)]
    assert out == [7, 8, 9, 10, 0]
    track.stop()


def test_play_refuses_the_wrong_format() -> None:
    track = OutboundTrack()
    with pytest.raises(ValueError, match="expected 1-D int16"):
        asyncio.run(track.play(np.zeros(160, dtype=np.float32)))


class _SourceTrack(MediaStreamTrack):
    """Replays frames the way aiortc's decoders hand them out."""

    kind = "audio"

    def __init__(self, frames: list[av.AudioFrame]) -> None:
        super().__init__()
        self._frames = frames

    async def recv(self) -> av.AudioFrame:
        if not self._frames:
            raise MediaStreamError
        return self._frames.pop(0)


def _frames(pcm: Pcm, rate: int, layout: str, per_frame: int) -> list[av.AudioFrame]:
    channels = 2 if layout == "stereo" else 1
    out = []
    for i in range(0, len(pcm), per_frame):
        chunk = np.repeat(pcm[i : i + per_frame], channels).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout=layout)
        frame.sample_rate = rate
        frame.pts = i
        out.append(frame)
    return out


async def test_reader_passes_g711_frames_through_unchanged() -> None:
    pcm = _ramp(5)
    reader = InboundReader(_SourceTrack(_frames(pcm, SAMPLE_RATE, "mono", FRAME_SAMPLES)))
    out = [f async for f in reader.frames()]
    assert len(out) == 5 and all(len(f) == FRAME_SAMPLES for f in out)
    assert np.array_equal(np.concatenate(out), pcm)


async def test_reader_turns_48k_stereo_into_8k_frames_keeping_the_pitch() -> None:
    pcm = _tone(1000, 1000, rate=48000)
    reader = InboundReader(_SourceTrack(_frames(pcm, 48000, "stereo", 960)))
    out = [f async for f in reader.frames()]
    assert all(f.dtype == np.int16 and len(f) == FRAME_SAMPLES for f in out)
    assert len(out) >= 48  # the resampler may hold back a few ms
    assert _peak_hz(np.concatenate(out)) == pytest.approx(1000, abs=10)


def test_dtmf_tones_have_the_q23_frequencies() -> None:
    pcm = dtmf_tones("9", tone_ms=200, gap_ms=0)
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64)))
    freqs = np.fft.rfftfreq(len(pcm), 1 / SAMPLE_RATE)
    top = sorted(float(freqs[i]) for i in np.argsort(spectrum)[-2:])
    assert top == pytest.approx([852, 1477], abs=5)
    assert len(dtmf_tones("12", tone_ms=100, gap_ms=60)) == 2 * 160 * 8
    with pytest.raises(ValueError, match="DTMF digit 'A'"):
        dtmf_tones("A")
