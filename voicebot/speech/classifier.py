"""A learned intent classifier: character n-grams and a linear model, trained from the corpus.

The lexicon rules (:mod:`voicebot.speech.intent`) are precise but only know the phrases written
in them; callers paraphrase ("not call me again", "以后别给我打了"). This model reads the same
normalized text as the rules (:meth:`Lexicon.clauses`: width, case, fillers, ASR look-alikes
folded) as overlapping character n-grams, which carry over to paraphrases, misspellings and
homophone slips, and scores every label (the intents and ``none``) with a multinomial logistic
regression.

It is trained from the ``dev`` part of the labelled utterances only (:mod:`voicebot.speech.corpus`)
by ``voicebot intent train``, in a few seconds of numpy (no ML library for a 600-line corpus),
deterministically, and shipped as data (``voicebot/speech/intent_models/<locale>.npz``) with
the digest of what it was trained from, so a test can tell a stale model. Inference is one
sparse sum of weight rows: a few tens of microseconds.
"""

from __future__ import annotations

import functools
import io
import itertools
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from voicebot.speech.corpus import NONE, corpus_digest, load_corpus
from voicebot.speech.lexicon import MASK, Lexicon, load_lexicon

FloatArray = npt.NDArray[np.float32]

NGRAMS = {"chars": (1, 3), "words": (2, 5)}
"""Character n-gram lengths per lexicon unit kind: Chinese characters carry meaning one by one;
English needs a few letters to."""

MIN_COUNT = 1
"""An n-gram must occur in this many dev utterances to become a feature."""

L2 = 1e-5
"""Weight decay: keeps rare n-grams from deciding alone."""

EPOCHS = 500
LEARNING_RATE = 20.0
MOMENTUM = 0.9


@dataclass(frozen=True)
class Prediction:
    """What the model makes of an utterance: labels by probability, highest first."""

    ranked: tuple[tuple[str, float], ...]
    evidence: tuple[tuple[str, float], ...]
    """The n-grams that pushed most towards the top label, with their weight."""

    @property
    def label(self) -> str:
        """The most probable label (an intent or ``none``)."""
        return self.ranked[0][0]

    @property
    def probability(self) -> float:
        return self.ranked[0][1]


@dataclass(frozen=True, eq=False)
class IntentModel:
    """A trained model for one locale."""

    locale: str
    labels: tuple[str, ...]
    vocabulary: dict[str, int]
    weights: FloatArray
    """(features, labels)."""
    bias: FloatArray
    digest: str
    """:func:`corpus_digest` of the dev part it was trained from."""

    @functools.cached_property
    def grams(self) -> tuple[str, ...]:
        """The n-gram of each feature row."""
        return tuple(sorted(self.vocabulary, key=self.vocabulary.__getitem__))

    def predict(self, text: str, lexicon: Lexicon) -> Prediction:
        """Score every label for ``text`` (normalized with ``lexicon``, as the rules do)."""
        index = [self.vocabulary[g] for g in ngrams(text, lexicon) if g in self.vocabulary]
        if not index:  # nothing the model knows: no evidence for any intent
            rest = tuple((label, 0.0) for label in self.labels if label != NONE)
            return Prediction(ranked=((NONE, 1.0), *rest), evidence=())
        scale = 1.0 / np.sqrt(max(len(index), 1))
        logits = self.bias + scale * self.weights[index].sum(axis=0)
        probs = _softmax(logits[None, :])[0]
        order = np.argsort(-probs, kind="stable")
        top = int(order[0])
        pushes = sorted(
            {(self.grams[i], float(self.weights[i, top]) * scale) for i in index},
            key=lambda e: -e[1],
        )
        return Prediction(
            ranked=tuple((self.labels[i], float(probs[i])) for i in order),
            evidence=tuple((g, round(w, 3)) for g, w in pushes[:5] if w > 0),
        )

    def save(self, path: Path) -> None:
        """Write the model as a compressed ``.npz`` (no pickles: plain arrays and strings)."""
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            locale=np.array(self.locale),
            labels=np.array(self.labels),
            vocabulary=np.array("\n".join(self.grams)),
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            digest=np.array(self.digest),
        )
        path.write_bytes(buffer.getvalue())

    @classmethod
    def read(cls, data: bytes) -> IntentModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return cls(
                locale=str(npz["locale"]),
                labels=tuple(str(x) for x in npz["labels"]),
                vocabulary={g: i for i, g in enumerate(str(npz["vocabulary"]).split("\n"))},
                weights=npz["weights"].astype(np.float32),
                bias=npz["bias"].astype(np.float32),
                digest=str(npz["digest"]),
            )


def ngrams(text: str, lexicon: Lexicon) -> list[str]:
    """The character n-grams of normalized text; clauses are bounded by ``|`` on both sides."""
    low, high = NGRAMS[lexicon.units]
    out: list[str] = []
    for clause in lexicon.clauses(text):
        clause = " ".join(clause.replace(MASK, " ").split())  # neutral words ("你好") say nothing
        if lexicon.units == "chars":
            clause = clause.replace(" ", "")
        if not clause:
            continue
        padded = f"|{clause}|"
        for n in range(low, high + 1):
            grams = (padded[i : i + n] for i in range(len(padded) - n + 1))
            out.extend(g for g in grams if g != "|")  # a bare boundary would only say "short"
        if lexicon.units == "words":
            words = ["|", *clause.split(), "|"]
            out.extend(f"w:{w}" for w in words[1:-1])
            out.extend(f"w:{a} {b}" for a, b in itertools.pairwise(words))
    return out


def models_root() -> Traversable:
    """The folder of trained models shipped inside the package."""
    return resources.files("voicebot.speech").joinpath("intent_models")


def model_path_in_source(locale: str) -> Path:
    """Where ``voicebot intent train`` writes a locale's model (inside the source tree)."""
    return Path(__file__).with_name("intent_models") / f"{locale}.npz"


@functools.cache
def shipped_model(locale: str) -> IntentModel | None:
    """The shipped model of a locale, or None when none was trained for it."""
    entry = models_root().joinpath(f"{locale}.npz")
    if not entry.is_file():
        return None
    return IntentModel.read(entry.read_bytes())


def train(locale: str, intents: tuple[str, ...]) -> IntentModel:
    """Train a locale's model from the ``dev`` part of its labelled utterances (deterministic)."""
    lexicon = load_lexicon(locale, intents)
    corpus = load_corpus(locale, ("dev",), intents)
    return fit(
        locale,
        [u.text for u in corpus],
        [u.intent for u in corpus],
        lexicon,
        (*intents, NONE),
        corpus_digest(locale),
    )


def fit(
    locale: str,
    texts: list[str],
    labels: list[str],
    lexicon: Lexicon,
    names: tuple[str, ...],
    digest: str = "",
) -> IntentModel:
    """Fit the model on given utterances (also used for cross-validation on the dev part)."""
    grams = [set(ngrams(t, lexicon)) for t in texts]
    counts: dict[str, int] = {}
    for gs in grams:
        for g in gs:
            counts[g] = counts.get(g, 0) + 1
    vocabulary = {
        g: i for i, g in enumerate(sorted(g for g, c in counts.items() if c >= MIN_COUNT))
    }
    x = np.zeros((len(texts), len(vocabulary)), np.float32)
    for row, gs in enumerate(grams):
        cols = [vocabulary[g] for g in gs if g in vocabulary]
        x[row, cols] = 1.0 / np.sqrt(max(len(cols), 1))
    y = np.zeros((len(texts), len(names)), np.float32)
    y[np.arange(len(texts)), [names.index(label) for label in labels]] = 1.0
    with threadpool_limits(limits=1):  # tiny matrices: BLAS threads only fight a busy machine
        weights, bias = _descend(x, y)
    return IntentModel(locale, names, vocabulary, weights, bias, digest)


def _descend(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Gradient descent with momentum on the L2-regularized multinomial log-loss."""
    # The weights stay a combination of the training rows (L2 keeps them there), so each step
    # works on the utterances' similarity matrix: (n, n) instead of (n, features).
    gram = x @ x.T
    dual = np.zeros(y.shape, np.float32)
    bias = np.zeros(y.shape[1], np.float32)
    velocity_d: npt.NDArray[Any] = np.zeros_like(dual)
    velocity_b: npt.NDArray[Any] = np.zeros_like(bias)
    for _ in range(EPOCHS):
        error = (_softmax(gram @ dual + bias) - y) / len(y)
        velocity_d = MOMENTUM * velocity_d - LEARNING_RATE * (error + L2 * dual)
        velocity_b = MOMENTUM * velocity_b - LEARNING_RATE * error.sum(axis=0)
        dual += velocity_d
        bias += velocity_b
    weights: FloatArray = (x.T @ dual).astype(np.float32)
    return weights, bias


def _softmax(logits: npt.NDArray[Any]) -> FloatArray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs: FloatArray = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    return probs
