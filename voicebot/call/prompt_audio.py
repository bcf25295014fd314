"""A call's prompts as audio, rendered ahead of need.

While the phone rings and the disclosure plays, every prompt this contact can hear is rendered
in the order the flow uses them, so the bot never pauses mid-call to synthesize (a pause reads
as "your turn" to the caller). The disclosure itself only ever comes from the cache.

A prompt that uses the contact's variables (anything but ``{company}``) is personal: it is
rendered in memory for this call and never stored in the disk cache, which outlives the call
and which erasure of a number could not find it in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from voicebot.audio import Pcm
from voicebot.flow.loader import LoadedFlow
from voicebot.flow.machine import FlowSpec
from voicebot.flow.runner import prompts_used
from voicebot.speech.tts.base import Synthesizer

SHARED_VARIABLES = frozenset({"company"})
"""Variables that are the same for every contact (a prompt using only these is cached)."""


class PromptAudio:
    """Rendered prompts of one call, keyed by their final text."""

    def __init__(self, loaded: LoadedFlow, synthesizer: Synthesizer) -> None:
        self.loaded = loaded
        self.synthesizer = synthesizer
        self._renders: dict[str, asyncio.Future[Pcm]] = {}

    async def prerender(self, spec: FlowSpec, variables: Mapping[str, object]) -> None:
        """Render every prompt whose variables are known (run as a background task)."""
        catalog = self.loaded.prompts
        assert catalog is not None
        known = {**variables, "company": self.loaded.flow.company}
        loop = asyncio.get_running_loop()
        todo = []
        for prompt_id in prompts_used(spec):
            if catalog.variables(prompt_id) <= known.keys():
                text = catalog.render(prompt_id, known)
                if text not in self._renders:
                    self._renders[text] = loop.create_future()
                    todo.append((prompt_id, text))
        for prompt_id, text in todo:
            future = self._renders[text]
            try:
                future.set_result(await self._render(prompt_id, text))
            except Exception as exc:  # raised when the prompt is needed, not here
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning if unused

    async def get(self, prompt_id: str, text: str) -> Pcm:
        """The audio for a prompt: pre-rendered (waiting for it if under way) or now."""
        pending = self._renders.get(text)
        if pending is not None:
            return await asyncio.shield(pending)
        return await self._render(prompt_id, text)

    async def _render(self, prompt_id: str, text: str) -> Pcm:
        return await self.synthesizer.render(
            text,
            live=prompt_id != self.loaded.flow.disclosure,
            keep=not self.personal(prompt_id),
        )

    def personal(self, prompt_id: str) -> bool:
        """Whether the prompt's text carries the contact's data (a variable besides company)."""
        catalog = self.loaded.prompts
        return catalog is not None and bool(catalog.variables(prompt_id) - SHARED_VARIABLES)
