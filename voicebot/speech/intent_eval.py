"""Measuring text intents on the labelled utterances (``voicebot intent eval``).

Reports, per split (``dev`` and ``heldout`` apart: only the held-out figures say how the engine
does on words it was not tuned on), the accuracy, each intent's recall and precision, the
confusion matrix, and the two figures compliance depends on: ``opt_out`` recall (a missed
opt-out is another unwanted call) and the false ``opt_out`` rate (a wrong one loses a contact).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from voicebot.speech.corpus import NONE, Utterance

Reader = Callable[[str], str | None]
"""Text -> intent (None for no intent)."""


@dataclass
class SplitReport:
    """The figures of one split."""

    split: str
    labels: tuple[str, ...]
    total: int = 0
    correct: int = 0
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    """expected label -> predicted label -> count."""
    errors: list[tuple[Utterance, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def recall(self, label: str) -> float:
        row = self.confusion.get(label, {})
        n = sum(row.values())
        return row.get(label, 0) / n if n else 1.0

    def precision(self, label: str) -> float:
        n = sum(row.get(label, 0) for row in self.confusion.values())
        return self.confusion.get(label, {}).get(label, 0) / n if n else 1.0

    @property
    def false_opt_out(self) -> float:
        """Share of utterances that are no opt-out but were read as one."""
        others = [(e, row) for e, row in self.confusion.items() if e != "opt_out"]
        n = sum(sum(row.values()) for _, row in others)
        return sum(row.get("opt_out", 0) for _, row in others) / n if n else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "split": self.split,
            "utterances": self.total,
            "accuracy": round(self.accuracy, 4),
            "opt_out_recall": round(self.recall("opt_out"), 4),
            "false_opt_out_rate": round(self.false_opt_out, 4),
            "per_intent": {
                label: {
                    "count": sum(self.confusion.get(label, {}).values()),
                    "recall": round(self.recall(label), 4),
                    "precision": round(self.precision(label), 4),
                }
                for label in self.labels
            },
            "confusion": self.confusion,
            "ms_per_utterance": round(1000 * self.seconds / self.total, 3) if self.total else 0,
            "errors": [
                {"line": u.line, "text": u.text, "expected": u.intent, "got": got}
                for u, got in self.errors
            ],
        }


def evaluate(
    utterances: Sequence[Utterance], read: Reader, labels: Sequence[str], splits: Sequence[str]
) -> list[SplitReport]:
    """Run ``read`` over the utterances and tally each split apart."""
    reports = []
    for split in splits:
        report = SplitReport(split, (*labels, NONE))
        report.confusion = {a: dict.fromkeys(report.labels, 0) for a in report.labels}
        for u in (u for u in utterances if u.split == split):
            started = time.perf_counter()
            got = read(u.text) or NONE
            report.seconds += time.perf_counter() - started
            report.total += 1
            report.confusion[u.intent][got] += 1
            if got == u.intent:
                report.correct += 1
            else:
                report.errors.append((u, got))
        reports.append(report)
    return reports
