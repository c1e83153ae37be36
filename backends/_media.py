"""Images in prompts for the remote backends: ``generate_text`` and ``chat`` with media.

:class:`MediaPrompts` goes before :class:`~onetwo.backends._remote.RemoteBackend` in a
backend's bases. A prompt or a message that holds a non-text :class:`Chunk` (an image as
bytes with a MIME type, or a ``PIL.Image.Image``) is sent as the backend's multimodal
chat: ``generate_text`` as one user message, ``chat`` with each message's parts (OpenAI:
``image_url`` parts with ``data:`` URLs; Gemini: ``inline_data`` parts). Text-only
prompts take the usual path. A backend whose model takes no images says so in
:meth:`MediaPrompts._media_refused` (the embedded model does).

Example:
    >>> png = Chunk(open("cat.png", "rb").read(), "image/png")   # doctest: +SKIP
    >>> ot.run(llm.generate_text(ChunkList(["What is this?", png])))  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Unpack

from onetwo.backends._common import has_media
from onetwo.backends._remote import RemoteBackend
from onetwo.backends._settings import takes_settings
from onetwo.builtins.settings import ModelSettings, merge
from onetwo.core import caching
from onetwo.core.content import Message, PredefinedRole

__all__ = ["MediaPrompts"]


class MediaPrompts:
    """``generate_text`` and ``chat`` that send images; see the module docstring."""

    settings: ModelSettings

    def _media_refused(self) -> Exception | None:
        """Why this backend's model takes no images, or ``None`` when it takes them."""
        return None

    async def _converse_media(
        self, messages: Sequence[Message], include_details: bool, settings: ModelSettings
    ) -> Any:
        """The next turn after ``messages``, whose contents may hold images."""
        raise NotImplementedError

    async def generate_text(self, prompt: Any, **options: Any) -> Any:
        """Continue ``prompt``; one with images is a chat of one user message."""
        if not has_media(prompt):
            return await super().generate_text(prompt, **options)  # type: ignore[misc]
        return await self.chat([Message(PredefinedRole.USER, prompt)], **options)

    async def chat(self, messages: Sequence[Message], **options: Any) -> Any:
        """The model's next turn; messages with images go as multimodal parts (the
        server applies its own template: ``formatter`` is unused)."""
        if not any(isinstance(m, Message) and has_media(m.content) for m in messages):
            return await super().chat(messages, **options)  # type: ignore[misc]
        refused = self._media_refused()
        if refused is not None:
            raise refused
        options.pop("formatter", None)
        return await self._media_chat(list(messages), **options)

    # What the registry and the cache read: the builtins' parameters, spelled out.
    generate_text.__signature__ = inspect.signature(RemoteBackend.generate_text)  # type: ignore[attr-defined]
    chat.__signature__ = inspect.signature(RemoteBackend.chat)  # type: ignore[attr-defined]

    @caching.cache_method(name="llm.chat", is_sampled=True)
    @takes_settings()
    async def _media_chat(
        self,
        messages: list[Message],
        *,
        include_details: bool = False,
        **settings: Unpack[ModelSettings],
    ) -> Any:
        return await self._converse_media(messages, include_details, merge(self.settings, settings))
