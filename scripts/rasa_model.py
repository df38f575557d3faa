"""Train (cached by content hash) and serve the project's Rasa model with the Python 3.10 venv
that scripts/rasa_env.sh builds. Used by tests/integration/test_rasa.py, and by hand:

    .venv/bin/python scripts/rasa_model.py serve --port 5005   # then RASA_URL=http://127.0.0.1:5005
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "bot" / "rasa"
ENV_SCRIPT = ROOT / "scripts" / "rasa_env.sh"
CACHE = Path(os.environ.get("STORMDESK_RASA_MODELS", Path.home() / ".cache/stormdesk/rasa-models"))
NO_PYTHON_310 = 3  # rasa_env.sh's exit status when no Python 3.10 exists
# Rasa phones home and TensorFlow chats on stderr; neither belongs in a test run.
QUIET_ENV = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2",
             "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "PYTHONWARNINGS": "ignore"}


class NoPython310(RuntimeError):
    """Rasa 3.6 needs Python 3.10 and this machine has none."""


def ensure_env(timeout: float = 1200) -> Path:
    """The Rasa venv, built on first use (about two minutes)."""
    proc = subprocess.run(["bash", str(ENV_SCRIPT)], capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode == NO_PYTHON_310:
        raise NoPython310(proc.stderr.strip())
    if proc.returncode != 0:
        raise RuntimeError(f"building the Rasa env failed:\n{proc.stderr[-4000:]}")
    return Path(proc.stdout.strip().splitlines()[-1])


def project_files() -> list[Path]:
    """What the model is trained from; tests/ is held out, so it is not part of the hash."""
    return [PROJECT / "config.yml", PROJECT / "domain.yml",
            *sorted((PROJECT / "data").rglob("*.yml"))]


def model_hash(venv: Path) -> str:
    digest = hashlib.sha256()
    digest.update(rasa_version(venv).encode())
    for path in project_files():
        digest.update(str(path.relative_to(PROJECT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def rasa_version(venv: Path) -> str:
    """The installed Rasa's dist-info name ("rasa-3.6.21.dist-info"): a new Rasa, a new model."""
    found = next((venv / "lib").glob("python3.*/site-packages/rasa-*.dist-info"), None)
    return found.name if found else "rasa-unknown"


def train(venv: Path, *, timeout: float = 1200) -> tuple[Path, float]:
    """A trained NLU model, from the cache when the project files are unchanged; and the seconds
    training took (0 when cached). Trains on a scratch copy so the tree gets no .rasa/ litter."""
    name = model_hash(venv)
    cached = CACHE / f"{name}.tar.gz"
    if cached.exists():
        return cached, 0.0
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="stormdesk-rasa-") as scratch:
        work = Path(scratch) / "project"
        shutil.copytree(PROJECT, work, ignore=shutil.ignore_patterns("tests", "models", ".rasa"))
        proc = subprocess.run(
            [str(venv / "bin" / "rasa"), "train", "nlu", "--out", str(work / "models"),
             "--fixed-model-name", name],
            cwd=work, env={**os.environ, **QUIET_ENV}, capture_output=True, text=True,
            timeout=timeout, check=False,
        )
        model = work / "models" / f"{name}.tar.gz"
        if proc.returncode != 0 or not model.exists():
            raise RuntimeError(f"rasa train nlu failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        partial = cached.with_suffix(".partial")
        shutil.copyfile(model, partial)
        partial.replace(cached)  # atomic: a concurrent reader never sees half a model
    return cached, time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RasaServer:
    """A `rasa run --enable-api` child process; `stop()` ends it (idempotent)."""

    def __init__(self, venv: Path, model: Path, port: int, log_path: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [str(venv / "bin" / "rasa"), "run", "--enable-api", "-m", str(model),
             "-p", str(port), "-i", "127.0.0.1"],
            cwd=log_path.parent, env={**os.environ, **QUIET_ENV},
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, timeout: float = 240) -> None:
        """Poll /status until the model is loaded; fail early if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rasa exited with {self.process.returncode}:\n{self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                response = httpx.get(f"{self.url}/status", timeout=2)
                if response.status_code == 200 and response.json().get("model_file"):
                    return
            time.sleep(1)
        raise TimeoutError(f"rasa not ready after {timeout}s:\n{self.tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()

    def tail(self, chars: int = 4000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]


@contextlib.contextmanager
def serve(venv: Path, model: Path, *, port: int | None = None,
          log_dir: Path | None = None) -> Iterator[RasaServer]:
    directory = log_dir or Path(tempfile.mkdtemp(prefix="stormdesk-rasa-run-"))
    server = RasaServer(venv, model, port or free_port(), directory / "rasa.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["train", "serve"])
    parser.add_argument("--port", type=int, default=5005)
    args = parser.parse_args()
    venv = ensure_env()
    model, seconds = train(venv)
    print(f"model {model} ({'cached' if not seconds else f'trained in {seconds:.0f}s'})")
    if args.command == "serve":
        with serve(venv, model, port=args.port) as server:
            print(f"Rasa ready: RASA_URL={server.url} (Ctrl-C stops it)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                server.process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
