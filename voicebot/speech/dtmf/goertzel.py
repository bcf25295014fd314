"""A bank of Goertzel filters evaluated for many blocks at once.

A Goertzel filter yields one DFT bin, at any frequency, over a block of samples. Its recursion is
cheap in C but a per-sample loop in Python is not; the same bin is a dot product of the block with
a precomputed windowed complex exponential, so the whole bank over a batch of blocks is one matrix
product in numpy. The result is identical to running the recursion, then windowing, per filter.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from voicebot.audio import SAMPLE_RATE

FloatArray = npt.NDArray[np.float64]
ComplexArray = npt.NDArray[np.complex128]


class GoertzelBank:
    """Single-bin DFTs at arbitrary frequencies over Hann-windowed blocks.

    The Hann window keeps a strong tone from leaking into bins a few tens of hertz away, which is
    what separates neighbouring DTMF rows (73-89 Hz apart).

    Args:
        freqs_hz: the frequency of each filter.
        block: block length in samples.
        sample_rate: samples per second.
    """

    def __init__(
        self, freqs_hz: Sequence[float], block: int, sample_rate: int = SAMPLE_RATE
    ) -> None:
        if block < 2:
            raise ValueError(f"Goertzel block: expected at least 2 samples, got {block}")
        self.freqs_hz: FloatArray = np.asarray(freqs_hz, dtype=np.float64)
        if np.any(self.freqs_hz <= 0) or np.any(self.freqs_hz >= sample_rate / 2):
            raise ValueError(f"Goertzel frequencies: expected 0 < f < {sample_rate / 2} Hz")
        self.block = block
        self.sample_rate = sample_rate
        n = np.arange(block)
        self.window: FloatArray = 0.5 - 0.5 * np.cos(2 * np.pi * (n + 1) / (block + 1))
        phase = 2 * np.pi * np.outer(n, self.freqs_hz) / sample_rate
        w = self.window[:, None]
        # One real product gives both parts: X = blocks @ (w cos) - j blocks @ (w sin).
        self._basis: FloatArray = np.concatenate([w * np.cos(phase), w * np.sin(phase)], axis=1)
        self._window_sq: FloatArray = self.window**2
        # A sine of amplitude A gives |X| = A * sum(w) / 2; this turns |X|^2 into its power A^2/2.
        self._tone_scale = 2.0 / float(np.sum(self.window)) ** 2
        self._mean_scale = 1.0 / float(np.sum(self._window_sq))

    def bins(self, blocks: FloatArray) -> ComplexArray:
        """Complex bin values, shape ``(len(blocks), len(freqs_hz))``."""
        both = blocks @ self._basis
        k = len(self.freqs_hz)
        result: ComplexArray = both[:, :k] - 1j * both[:, k:]
        return result

    def tone_power(self, bins: ComplexArray) -> FloatArray:
        """Power (mean square, int16 units) of a steady sine sitting in each bin."""
        power: FloatArray = (bins.real**2 + bins.imag**2) * self._tone_scale
        return power

    def block_power(self, blocks: FloatArray) -> FloatArray:
        """Window-weighted mean square of each block, comparable with :meth:`tone_power`."""
        power: FloatArray = (blocks**2 @ self._window_sq) * self._mean_scale
        return power
