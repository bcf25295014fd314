"""A Janus lab on one machine: real Janus and SIPp inside a network namespace made for the purpose.

The integration tests and ``voicebot bench calls --transport janus`` both use it. Why a namespace:
Janus never gathers ICE candidates on loopback interfaces and aioice drops 127.0.0.1, so the bot's
aiortc peer and Janus meet on 127.0.0.2, carried by a veth inside a private network namespace
(``lo`` + one veth pair, nothing routed outside). Janus, SIPp and the bot's sockets all live there;
nothing listens on the machine's own interfaces. Needs root (namespaces) and Debian's ``janus``
and ``sip-tester`` packages (:data:`PACKAGES`); the lab never installs them itself: it says
which are missing (``voicebot bench calls --transport janus --install`` installs them).

The bot runs in the calling process: :meth:`Namespace.entered` moves the calling thread (the one
running the event loop) into the namespace with ``setns(2)`` and back afterwards, so the sockets
aiortc and aiohttp create are the namespace's. Every process is started in its own process group
and killed with it; the namespace is deleted last. :class:`JanusLab` does all of it in one
``with``; the far ends are SIPp scenarios from ``sipp/`` (answer and talk, busy, no answer, ...).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from voicebot.telephony.janus.config import JanusConfig

HERE = Path(__file__).resolve().parent
CONF = HERE / "conf"
SCENARIOS = HERE / "sipp"
HOST = "127.0.0.2"
"""The bot's and Janus's ICE address inside the namespace."""
PCAPS = Path("/usr/share/sip-tester")
_CLONE_NEWNET = 0x40000000


PACKAGES = {"janus": "janus", "sipp": "sip-tester"}
"""Executables the lab runs -> the Debian packages that provide them."""


class LabNotInstalled(RuntimeError):
    """Janus or SIPp is not installed."""


def require_installed() -> None:
    """Fail with what to install when Janus or SIPp is missing."""
    missing = [pkg for exe, pkg in PACKAGES.items() if not shutil.which(exe)]
    if missing:
        raise LabNotInstalled(
            f"the Janus lab needs Debian's {' and '.join(missing)}: install with "
            f"'apt-get install {' '.join(missing)}' (as root), or run "
            "'voicebot bench calls --transport janus --install'"
        )


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Namespace:
    """A private network namespace with ``lo`` up and a veth pair carrying 127.0.0.2/32."""

    def __init__(self, name: str) -> None:
        self.name = name

    def create(self) -> None:
        """Create it (an old one of the same name, left by a killed run, is replaced)."""
        if os.geteuid() != 0:
            raise RuntimeError(
                "the Janus integration tests need root to create a network namespace"
            )
        with contextlib.suppress(RuntimeError):
            _ip("netns", "delete", self.name)
        _ip("netns", "add", self.name)
        _ip("-n", self.name, "link", "set", "lo", "up")
        _ip("-n", self.name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
        _ip("-n", self.name, "addr", "add", f"{HOST}/32", "dev", "veth0")
        _ip("-n", self.name, "link", "set", "veth0", "up")
        _ip("-n", self.name, "link", "set", "veth1", "up")

    @staticmethod
    def reap_stale(prefix: str = "vb-") -> None:
        """Delete namespaces left by test runs that were killed (their pid, the suffix, is gone)."""
        listing = subprocess.run(
            ["ip", "netns", "list"], capture_output=True, text=True, check=False
        )
        for line in listing.stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            pid = name.rsplit("-", 1)[-1]
            if name.startswith(prefix) and pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(RuntimeError):
                    _ip("netns", "delete", name)

    def delete(self) -> None:
        """Delete it (idempotent)."""
        with contextlib.suppress(RuntimeError):
            _ip("netns", "delete", self.name)

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Move the calling thread into the namespace, and back out afterwards."""
        libc = ctypes.CDLL(None, use_errno=True)
        with (
            open("/proc/thread-self/ns/net", "rb") as home,
            open(f"/var/run/netns/{self.name}", "rb") as target,
        ):
            if libc.setns(target.fileno(), _CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the test namespace failed")
            try:
                yield
            finally:
                if libc.setns(home.fileno(), _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back to the host namespace failed")

    def popen(self, cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
        """Start ``cmd`` inside the namespace in its own process group, output to ``log``."""
        with log.open("wb") as out:
            return subprocess.Popen(
                ["ip", "netns", "exec", self.name, *cmd],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, grace: float = 5.0) -> None:
    """Signal the process group of ``proc``; SIGKILL it if still there after ``grace``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


class Janus:
    """One Janus process (SIP plugin and HTTP API only) inside the namespace."""

    def __init__(
        self, ns: Namespace, workdir: Path, http_port: int = 8088, rtp_base: int = 20000
    ) -> None:
        self.ns = ns
        self.dir = workdir
        self.http_port = http_port
        self.rtp_base = rtp_base
        self.url = f"http://127.0.0.1:{http_port}/janus"
        self.log = workdir / "janus.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0, configs: Path | None = None) -> None:
        """Write the test configs (or use ``configs``), start Janus, wait for its API.

        Call it inside the namespace (the readiness probe goes to 127.0.0.1).
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        if configs is None:
            self._write_configs()
        else:
            self.dir = configs
        cmd = ["janus", "-C", str(self.dir / "janus.jcfg"), "-F", str(self.dir), "-o"]
        self.proc = self.ns.popen(cmd, self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"janus exited with {self.proc.returncode}:\n{self.tail()}")
            with contextlib.suppress(OSError, ValueError):
                with urllib.request.urlopen(f"{self.url}/info", timeout=1) as resp:
                    info = json.load(resp)
                if "janus.plugin.sip" in info.get("plugins", {}):
                    return
            time.sleep(0.2)
        raise RuntimeError(f"janus API not up after {timeout:g} s:\n{self.tail()}")

    def _write_configs(self) -> None:
        subs = {
            "@CONF_DIR@": str(self.dir),
            "@RTP_RANGE@": f"{self.rtp_base}-{self.rtp_base + 499}",
            "@SIP_RTP_RANGE@": f"{self.rtp_base + 500}-{self.rtp_base + 999}",
            "@HTTP_PORT@": str(self.http_port),
        }
        for src in CONF.glob("*.jcfg"):
            text = src.read_text()
            for key, value in subs.items():
                text = text.replace(key, value)
            (self.dir / src.name).write_text(text)

    def cpu_seconds(self) -> float:
        """User + system CPU time Janus has used so far."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """SIGKILL: the gateway dies mid-call."""
        if self.proc is not None:
            stop(self.proc, signal.SIGKILL, 5.0)

    def stop(self) -> None:
        """SIGTERM (Janus stops cleanly), SIGKILL if it hangs."""
        if self.proc is not None:
            stop(self.proc)

    def tail(self, chars: int = 4000) -> str:
        """The end of Janus's log, for failure messages."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


class Sipp:
    """One SIPp UAS running one scenario of ``sipp/`` inside the namespace."""

    def __init__(self, ns: Namespace, workdir: Path, scenario: str, port: int, *extra: str) -> None:
        self.ns = ns
        self.dir = workdir
        self.scenario = scenario
        self.port = port
        self.extra = list(extra)
        self.log = workdir / f"sipp-{scenario}-{port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        """Where to call it: ``sip:<number>@127.0.0.1:<port>`` with ``{number}`` to fill in."""
        return f"sip:{{number}}@127.0.0.1:{self.port}"

    def start(self, calls: int = 1) -> None:
        """Start SIPp; it exits after ``calls`` calls (0 if every one went as scripted)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            "sipp", "-sf", str(SCENARIOS / f"{self.scenario}.xml"),
            "-p", str(self.port), "-i", "127.0.0.1", "-mi", "127.0.0.1",
            "-mp", str(10000 + (self.port % 1000) * 10), "-bind_local",
            "-ci", "127.0.0.1", "-cp", str(self.port + 3000),
            "-m", str(calls), "-timeout", "60s", "-nostdin",
            "-trace_msg", "-message_file", str(self.dir / f"{self.scenario}-{self.port}.msg"),
            "-trace_err", "-error_file", str(self.dir / f"{self.scenario}-{self.port}.err"),
            *self.extra,
        ]  # fmt: skip
        self.proc = self.ns.popen(cmd, self.log)
        time.sleep(0.3)
        if self.proc.poll() is not None:
            raise RuntimeError(f"sipp exited at once with {self.proc.returncode}:\n{self.report()}")

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for SIPp to finish its calls; its exit code (0: every call went as scripted)."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop(self.proc)
            raise RuntimeError(f"sipp {self.scenario} still running after {timeout:g} s") from None

    def stop(self) -> None:
        """Stop it (idempotent)."""
        if self.proc is not None:
            stop(self.proc)

    def messages(self) -> str:
        """Every SIP message SIPp sent and received."""
        path = self.dir / f"{self.scenario}-{self.port}.msg"
        return path.read_text(errors="replace") if path.exists() else ""

    def report(self) -> str:
        """SIPp's output, errors and messages, for failure messages."""
        parts = [self.log, self.dir / f"{self.scenario}-{self.port}.err"]
        text = "".join(p.read_text(errors="replace")[-3000:] for p in parts if p.exists())
        return text + self.messages()[-4000:]


class JanusLab:
    """Namespace, Janus and SIPp far ends in one ``with`` block; the calling thread is inside.

    Usage::

        with JanusLab(workdir) as lab:
            far = lab.far_end("uas_hold", 5081, "-rtp_echo", calls=10)
            transport = JanusTransport(lab.config(codec=Codec.PCMA))
            ...  # dial far.uri.format(number=...)
            print(lab.janus.cpu_seconds())
    """

    def __init__(self, workdir: Path, name: str | None = None) -> None:
        self.workdir = workdir
        self.ns = Namespace(name or f"vb-lab-{os.getpid()}")
        self.janus = Janus(self.ns, workdir / "janus")
        self._far: list[Sipp] = []
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> JanusLab:
        require_installed()
        Namespace.reap_stale()
        try:
            self.ns.create()
            self._stack.callback(self.ns.delete)
            self._stack.enter_context(self.ns.entered())
            self._stack.callback(self.janus.stop)
            self.janus.start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for far in self._far:
            far.stop()
        self._stack.close()

    def far_end(self, scenario: str, port: int, *extra: str, calls: int = 1) -> Sipp:
        """Start a SIPp far end (stopped when the lab closes)."""
        far = Sipp(self.ns, self.workdir / "sipp", scenario, port, *extra)
        self._far.append(far)
        far.start(calls)
        return far

    def config(self, **overrides: object) -> JanusConfig:
        """Gateway settings that reach this lab's Janus as a guest account."""
        values: dict[str, object] = {"url": self.janus.url, "host": HOST, "secret_env": None}
        values.update(overrides)
        return JanusConfig.model_validate(values)
