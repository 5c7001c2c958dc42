"""Making a Reel from a 30-second 4K HEVC clip: pawpost's transcode (PyAV, bot.video.transcode) against the `ffmpeg`
command doing the same conversion (same crop, scale, codec, preset, CRF, rate cap, GOP and sound) on this machine.

    python -m benchmarks.reels [--runs 2] [--no-record]

The clip is made once with the ffmpeg command (testsrc2 + a tone, libx265) and kept in ~/.cache/pawpost-bench/.
Each run is a fresh process, timed by wall clock, its peak memory the kernel's high-water mark for it (wait4's
ru_maxrss, the process's VmHWM). The two alternate, back to back, so both see the same machine; the load average
before and after is recorded with the result. Goal: pawpost's time at most 1.5x the command's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from benchmarks.harness import record

CACHE = Path.home() / ".cache" / "pawpost-bench"
CLIP = CACHE / "reels-4k-hevc-30s.mp4"
SIZE, SECONDS, FPS = (3840, 2160), 30, 30
GOAL = 1.5
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"

# The conversion both sides make: the defaults of `[reels]` (1080 wide, x264 "fast", CRF 23), centre crop.
PAWPOST = """
import json, os, sys
from pathlib import Path
from bot.config.reels import ReelsConfig
from bot.video.reelplan import plan_reel
from bot.video.transcode import make_reel, upright_size
src, dest = Path(sys.argv[1]), Path(sys.argv[2])
w, h, duration, fps = upright_size(src)
plan = plan_reel((w, h), duration, fps, ReelsConfig())
make_reel(src, dest, plan)
g = plan.geometry
print(json.dumps({"crop": g.crop, "size": g.size, "rate": str(plan.rate), "crf": plan.crf, "preset": plan.preset}))
"""


def make_clip() -> Path:
    """The 4K HEVC test clip with stereo sound, made once."""
    if CLIP.is_file():
        return CLIP
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CLIP.with_suffix(".tmp.mp4")
    w, h = SIZE
    subprocess.run([FFMPEG, "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={FPS}:duration={SECONDS}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS}",
                    "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-tag:v", "hvc1",
                    "-c:a", "aac", "-ac", "2", "-b:a", "128k", "-shortest", str(tmp)], check=True)
    tmp.replace(CLIP)
    return CLIP


def ffmpeg_argv(src: Path, dest: Path, facts: dict) -> list[str]:
    """The ffmpeg command for the same Reel pawpost makes (its crop, size, rate and encoder settings)."""
    from bot.limits import REELS_AUDIO_BITRATE, REELS_MAX_AUDIO_RATE, REELS_MAX_VIDEO_BITRATE
    from bot.video.transcode import KEYFRAME_SECONDS

    x0, y0, x1, y1 = facts["crop"]
    out_w, out_h = facts["size"]
    rate = facts["rate"]
    gop = round(KEYFRAME_SECONDS * Fraction(rate))
    return [FFMPEG, "-v", "error", "-y", "-i", str(src),
            "-vf", f"crop={x1 - x0}:{y1 - y0}:{x0}:{y0}:exact=1,scale={out_w}:{out_h}:flags=bicubic,"
                   f"format=yuv420p,setsar=1",
            "-r", rate, "-c:v", "libx264", "-preset", facts["preset"], "-crf", str(facts["crf"]),
            "-profile:v", "high", "-maxrate", str(REELS_MAX_VIDEO_BITRATE),
            "-bufsize", str(2 * REELS_MAX_VIDEO_BITRATE), "-g", str(gop), "-x264-params", "open-gop=0:scenecut=0",
            "-c:a", "aac", "-b:a", str(REELS_AUDIO_BITRATE), "-ar", str(REELS_MAX_AUDIO_RATE), "-ac", "2",
            "-movflags", "+faststart", "-use_editlist", "0", str(dest)]


def timed(argv: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system, every thread), peak memory in MiB (the process's own high-water
    mark) and stdout of one fresh process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # reaped here, not by Popen: wait4 gives this child's rusage
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {err.read()[-2000:]}")
        return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    from bot.video.reelcheck import reel_problems

    clip = make_clip()
    work = Path(tempfile.mkdtemp(prefix="pawpost-reels-"))
    load_before = os.getloadavg()
    ours, theirs, facts = [], [], None
    try:
        for run in range(args.runs):
            seconds, cpu, mib, out = timed([sys.executable, "-c", PAWPOST, str(clip), str(work / "pawpost.mp4")])
            facts = facts or json.loads(out)
            ours.append((seconds, cpu, mib))
            print(f"run {run + 1}: pawpost {seconds:.1f} s, CPU {cpu:.1f} s, {mib:.0f} MiB", flush=True)
            seconds, cpu, mib, _ = timed(ffmpeg_argv(clip, work / "ffmpeg.mp4", facts))
            theirs.append((seconds, cpu, mib))
            print(f"run {run + 1}: ffmpeg  {seconds:.1f} s, CPU {cpu:.1f} s, {mib:.0f} MiB", flush=True)
        problems = reel_problems(work / "pawpost.mp4")
        sizes = ((work / "pawpost.mp4").stat().st_size, (work / "ffmpeg.mp4").stat().st_size)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    load_after = os.getloadavg()
    ratio = min(s for s, _, _ in ours) / min(s for s, _, _ in theirs)
    cpu_ratio = min(c for _, c, _ in ours) / min(c for _, c, _ in theirs)
    lines = [
        f"A {SECONDS}-second {SIZE[0]}x{SIZE[1]} HEVC clip (testsrc2, {FPS} fps, stereo AAC) made into a "
        f"{facts['size'][0]}x{facts['size'][1]} H.264 Reel (x264 {facts['preset']}, CRF {facts['crf']}, centre crop "
        f"{facts['crop']}), {args.runs} runs each, alternating, each a fresh process; ratios of the best of each.",
        "",
        "| | wall time (s) | CPU time (s) | peak memory (MiB) |",
        "| --- | --- | --- | --- |",
        *(f"| {name} | {' / '.join(f'{s:.1f}' for s, _, _ in runs)} | {' / '.join(f'{c:.1f}' for _, c, _ in runs)} | "
          f"{' / '.join(f'{m:.0f}' for _, _, m in runs)} |" for name, runs in (("pawpost (PyAV)", ours),
                                                                              ("ffmpeg command", theirs))),
        "",
        f"Ratio pawpost / ffmpeg, wall time: **{ratio:.2f}x** (goal <= {GOAL}x: "
        f"{'met' if ratio <= GOAL else 'NOT met'}); CPU time: {cpu_ratio:.2f}x (less moved by the machine's "
        "other work). "
        f"Files: {sizes[0] / 1e6:.1f} MB vs {sizes[1] / 1e6:.1f} MB; Reels rules check of pawpost's: "
        f"{'passes' if not problems else '; '.join(problems)}.",
        f"Load average (1/5/15 min) before: {' '.join(f'{v:.2f}' for v in load_before)}, after: "
        f"{' '.join(f'{v:.2f}' for v in load_after)} (a shared machine: both sides ran under the same load).",
    ]
    print("\n".join(lines))
    if not args.no_record:
        record("Reels: transcode vs the ffmpeg command", lines)


if __name__ == "__main__":
    main()
