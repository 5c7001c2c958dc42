"""The set-up line: `scripts/install` picks the CPU build of torch on a machine without an NVIDIA GPU, the vlm extra's
torchvision built for the torch in place, and a constraint that keeps that torch; the README and CI use it."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "install"
CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"


def plan(tmp_path: Path, *extras: str, gpu: bool, torch: str | None = "torch==2.13.0") -> list[str]:
    """The pip commands `--dry-run` prints, with an `nvidia-smi` that finds a GPU (`gpu`) or fails as one does on a
    machine without the driver, first on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA H100 80GB HBM3'\n" if gpu else
                   "#!/bin/sh\necho 'NVIDIA-SMI has failed: no NVIDIA driver' >&2\nexit 9\n")
    smi.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("TORCH", None)
    if torch:
        env["TORCH"] = torch
    done = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--venv", str(tmp_path / "venv"), *extras],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def pip_lines(lines: list[str], what: str) -> list[str]:
    """The pip commands whose arguments (not the venv's path) hold `what`."""
    return [line for line in lines if "/bin/pip install" in line and what in line.split("/bin/pip install", 1)[1]]


@pytest.mark.skipif(platform.system() != "Linux", reason="the CPU index is chosen on Linux only")
def test_without_an_nvidia_gpu_torch_comes_from_the_cpu_index(tmp_path: Path) -> None:
    lines = plan(tmp_path, "vlm", gpu=False)
    assert pip_lines(lines, "torch==2.13.0") == [f"{tmp_path}/venv/bin/pip install {CPU_INDEX} torch==2.13.0"]
    # torchvision: the release built for torch 2.13.0, from the same index, under the pin of the torch in place.
    assert pip_lines(lines, "torchvision") == [
        f"{tmp_path}/venv/bin/pip install {CPU_INDEX} -c {tmp_path}/venv/torch-constraint.txt torchvision==0.28.0"]
    assert f"echo torch==2.13.0 > {tmp_path}/venv/torch-constraint.txt" in lines
    assert lines[-1] == f"{tmp_path}/venv/bin/pip install -e .[vlm] -c {tmp_path}/venv/torch-constraint.txt"


def test_with_an_nvidia_gpu_torch_is_the_default_build(tmp_path: Path) -> None:
    lines = plan(tmp_path, "dev", gpu=True, torch=None)
    assert f"{tmp_path}/venv/bin/pip install torch" in lines
    assert not any("download.pytorch.org" in line for line in lines)
    assert not pip_lines(lines, "torchvision")  # only the vlm extra needs it
    assert lines[-1].endswith("install -e .[dev] -c " + f"{tmp_path}/venv/torch-constraint.txt")


@pytest.mark.parametrize(("torch", "vision"), [("torch==2.6.0", "torchvision==0.21.0"),
                                               ("torch==2.5.1", "torchvision==0.20.1"),
                                               ("torch==2.14.1", "torchvision==0.29.1")])
def test_torchvision_is_the_release_built_for_the_torch(tmp_path: Path, torch: str, vision: str) -> None:
    assert pip_lines(plan(tmp_path, "vlm", gpu=True, torch=torch), "torchvision")[0].endswith(vision)


def test_the_readme_and_ci_install_with_the_script() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "scripts/install vlm && .venv/bin/pawpost" in readme
    assert "TORCH=torch==2.13.0 scripts/install dev && .venv/bin/python -m pytest" in readme
    assert "scripts/install --venv \"$venv\" dev" in ci
    assert (REPO / "constraints.txt").read_text().split() == ["torch==2.13.0"]


@pytest.mark.skipif(platform.system() != "Linux", reason="PyPI's default torch is the CPU build off Linux anyway")
def test_on_a_machine_without_an_nvidia_gpu_the_installed_torch_is_the_cpu_build() -> None:
    """The environment the tests run in was made by the set-up line (CI: `.ci/run`, a fresh one)."""
    smi = shutil.which("nvidia-smi")
    if smi and subprocess.run([smi, "-L"], capture_output=True, timeout=30).returncode == 0:
        pytest.skip("an NVIDIA GPU is here: the CUDA build is the right one")
    import torch

    assert torch.version.cuda is None, f"torch {torch.__version__} is a CUDA build on a machine without an NVIDIA GPU"
