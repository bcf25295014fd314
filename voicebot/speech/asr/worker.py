"""A recognizer worker process: the utterances of many calls in, their words out.

Started by :class:`~voicebot.speech.asr.pool.RecognizerPool` as
``python -m voicebot.speech.asr.worker CONFIG_JSON``. It loads the locale's recognizer once,
then serves messages on stdin/stdout, each a 4-byte big-endian length and a pickled tuple
(only its parent writes to it):

* in: ``("open", uid, phrases)``, ``("audio", uid, pcm_bytes)``, ``("end", uid)``,
  ``("drop", uid)``, ``("ping", n)``
* out: ``("ready", pid)``, ``("partial", uid, text)``, ``("final", uid, text, ms)``,
  ``("error", uid, message)``, ``("pong", n)``

Each utterance is decoded as its audio arrives, so its final words cost only the flush.
"""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import queue
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from voicebot.speech.asr.base import RecognizerSession

HEADER = struct.Struct(">I")


def encode(message: tuple[Any, ...]) -> bytes:
    """One message, framed."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


async def read_async(stream: asyncio.StreamReader) -> tuple[Any, ...] | None:
    """The next message from an asyncio stream, or None at its end."""
    try:
        header = await stream.readexactly(HEADER.size)
        body = await stream.readexactly(HEADER.unpack(header)[0])
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    message = pickle.loads(body)
    return message if isinstance(message, tuple) else None


def write_message(out: BinaryIO, message: tuple[Any, ...]) -> None:
    """Frame and send one message."""
    out.write(encode(message))
    out.flush()


def read_message(source: BinaryIO) -> tuple[Any, ...] | None:
    """The next message, or None at the end of the stream."""
    header = source.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    body = source.read(size)
    if len(body) < size:
        return None
    message = pickle.loads(body)
    assert isinstance(message, tuple)
    return message


def serve(config: dict[str, Any], source: BinaryIO, out: BinaryIO) -> None:
    """Load the recognizer and serve until stdin closes."""
    from voicebot.speech.asr.select import recognizer_for

    directory = config.get("models_directory")
    recognizer = recognizer_for(
        config["locale"], config.get("model"), Path(directory) if directory else None
    )
    recognizer.prepare(int(config.get("decoders", 1)))
    lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with lock:
            write_message(out, message)

    inbox: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()

    def read() -> None:
        """Pings are answered here at once: a worker that is only behind (a busy machine)
        still answers; one that is stopped or stuck holding the interpreter does not."""
        while (message := read_message(source)) is not None:
            if message[0] == "ping":
                send(("pong", message[1]))
            else:
                inbox.put(message)
        inbox.put(None)

    threading.Thread(target=read, name="asr-worker-reader", daemon=True).start()
    send(("ready", os.getpid()))
    sessions: dict[int, tuple[RecognizerSession, list[str]]] = {}
    while (message := inbox.get()) is not None:
        kind = message[0]
        uid = message[1]
        try:
            if kind == "open":
                sessions[uid] = (recognizer.utterance(message[2]), [])
            elif kind == "audio" and uid in sessions:
                session, finals = sessions[uid]
                pcm = np.frombuffer(message[2], dtype=np.int16)
                for result in session.feed(pcm):
                    if result.final:
                        finals.append(result.text)
                    else:
                        send(("partial", uid, result.text))
            elif kind == "end" and uid in sessions:
                started = time.perf_counter()
                session, finals = sessions.pop(uid)
                finals += [r.text for r in session.finish() if r.final]
                ms = 1000 * (time.perf_counter() - started)
                send(("final", uid, " ".join(t for t in finals if t), ms))
            elif kind == "drop" and uid in sessions:
                sessions.pop(uid)[0].finish()
        except Exception as exc:  # one bad utterance must not take the others down
            sessions.pop(uid, None)
            send(("error", uid, f"{type(exc).__name__}: {exc}"))


def main() -> None:
    """Entry point: keep the protocol's stdout for messages only (C libraries may print)."""
    config = json.loads(sys.argv[1])
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(config, sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
