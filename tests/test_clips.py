"""Clips rendered offscreen from stored MuJoCo state, `prefrl render` and `prefrl watch`."""

import json
import math
import subprocess
import sys

import numpy as np

from prefrl.cli import main
from prefrl.media.clips import ClipConfig, SegmentRenderer, frame_stride, read_clip
from tests.label_runs import make_label_run, random_segments


def test_frames_follow_the_saved_state_and_real_time():
    seg = random_segments("Hopper-v5", 1, 30, seed=2)[0]
    renderer = SegmentRenderer("Hopper-v5", ClipConfig(width=64, height=48))
    frames = renderer.render(seg.qpos, seg.qvel)
    assert renderer.stride == frame_stride(0.008, None) == 2  # Hopper steps are 8 ms: 62.5 frames/s
    assert frames.shape == ((len(seg) + 1) // 2, 48, 64, 3) and frames.dtype == np.uint8
    assert frames.std() > 10  # a scene, not a blank buffer
    still = renderer.render(np.repeat(seg.qpos[:1], 4, 0), np.repeat(seg.qvel[:1], 4, 0))
    assert np.array_equal(still[0], still[1])  # the same state renders the same image
    assert not np.array_equal(frames[0], frames[-1])  # and the agent moved


def test_render_command_writes_mp4_and_metadata(tmp_path, capsys):
    make_label_run(tmp_path / "run", 2, length=10)
    code = main(["render", str(tmp_path / "run"), "--segments", "1", "3", "--size", "64", "--workers", "1"])
    assert code == 0
    for segment in (1, 3):
        clip = tmp_path / "run" / "clips" / "run" / f"{segment}.mp4"
        frames, fps = read_clip(clip)
        meta = json.loads(clip.with_suffix(".json").read_text())
        assert frames.shape == (10, 64, 64, 3) and fps == 20.0
        assert meta["env"] == "HalfCheetah-v5" and meta["run"] == "run" and meta["segment_id"] == segment
        assert meta["steps"] == 10 and meta["width"] == meta["height"] == 64 and meta["camera"] == "track"
    assert "2 clips" in capsys.readouterr().out


def test_render_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["render", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prefrl: error:") and "not a prefrl run folder" in err and "\n" not in err


def test_watch_renders_the_current_policy_to_an_mp4(tmp_path):
    run = tmp_path / "run"
    train = subprocess.run(
        [sys.executable, "-m", "prefrl", "train", "--env", "Hopper-v5", "--reward", "true", "--timesteps", "2048",
         "--eval-episodes", "1", "--quiet", "--out", str(run)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr
    assert main(["watch", str(run), "--mp4", str(tmp_path / "w.mp4"), "--max-steps", "40", "--size", "64"]) == 0
    frames, fps = read_clip(tmp_path / "w.mp4")
    assert frames.shape[1:] == (64, 64, 3) and 1 <= len(frames) <= 21 and fps == 62.5
    assert "returns" in json.loads((tmp_path / "w.json").read_text())

    # a GIF for a README: real speed at most 25 frames/s (Hopper's 62.5 keeps every third frame), looping
    assert main(["watch", str(run), "--gif", str(tmp_path / "w.gif"), "--max-steps", "40", "--size", "64"]) == 0
    from PIL import Image

    with Image.open(tmp_path / "w.gif") as gif:
        assert gif.size == (64, 64) and gif.info["loop"] == 0
        durations = []
        for i in range(gif.n_frames):  # identical neighbours are merged into one longer frame
            gif.seek(i)
            durations.append(gif.info["duration"])
    assert sum(durations) == 50 * math.ceil(len(frames) / 3)


def test_osmesa_renders_the_same_scene_when_egl_is_not_wanted(tmp_path, monkeypatch):
    from prefrl.media.clips import RenderPool

    seg = random_segments("HalfCheetah-v5", 1, 6)[0]
    monkeypatch.setenv("MUJOCO_GL", "osmesa")  # the render processes start with it
    pool = RenderPool("HalfCheetah-v5", tmp_path, "run", ClipConfig(width=64, height=64), workers=1)
    try:
        (path,) = pool.render({7: seg.to_bytes()})
    finally:
        pool.close()
    frames, _ = read_clip(path)
    assert frames.shape == (6, 64, 64, 3) and frames.std() > 10


def test_missing_gl_libraries_are_named_with_the_packages_to_install(monkeypatch):
    from prefrl.errors import PrefrlError
    from prefrl.media import clips

    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(clips, "_loadable", lambda names: None)  # as on a machine without libEGL or libOSMesa
    try:
        clips.choose_gl_backend()
    except PrefrlError as exc:
        message = str(exc)
    else:
        raise AssertionError("no error")
    assert "libEGL.so.1" in message and "apt-get install libegl1" in message and "libosmesa6" in message


def test_render_workers_exit_when_their_trainer_is_killed(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "from prefrl.media.clips import RenderPool; "
        f"pool = RenderPool('HalfCheetah-v5', {str(tmp_path)!r}, 'r', workers=2); "
        "print(*pool._pool._processes, flush=True); import time; time.sleep(120)"
    )
    trainer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    workers = [int(pid) for pid in trainer.stdout.readline().split()]
    assert workers, "the pool started no workers"
    trainer.send_signal(signal.SIGKILL)  # no shutdown, no atexit: only the workers themselves can notice
    trainer.wait()

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        with open(f"/proc/{pid}/stat") as f:  # reaped by init, or a zombie waiting to be
            return f.read().split()[2] != "Z"

    deadline = time.monotonic() + 15
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(p) for p in workers), "render workers outlived their trainer"


def test_a_clip_cut_short_by_a_fall_plays_the_fall_then_holds_its_last_frame_marked_for_the_whole_clip(tmp_path):
    from dataclasses import replace

    from prefrl.media.clips import RenderPool

    fallen = replace(random_segments("Hopper-v5", 1, 188, seed=3)[0], terminated=True)  # random hoppers fall fast
    assert len(fallen) < 100
    pool = RenderPool("Hopper-v5", tmp_path, "run", ClipConfig(width=64, height=64, steps=188), workers=1)
    try:
        (path,) = pool.render({1: fallen.to_bytes()})
    finally:
        pool.close()
    frames, fps = read_clip(path)
    played = (len(fallen) + 1) // 2  # Hopper's 8-ms steps, every other one a frame
    assert len(frames) == 94 and len(frames) / fps == 1.504  # the whole 1.5-s clip, like a full one
    assert json.loads(path.with_suffix(".json").read_text())["fell"] is True
    assert np.abs(frames[played].astype(int) - frames[-1]).mean() < 4  # then held still (H.264 is lossy)...
    assert frames[played].mean() < frames[played - 1].mean() - 10  # ...dimmed, and marked
    red = frames[-1][:2, :, 0].astype(int) - frames[-1][:2, :, 1]
    assert red.mean() > 60  # the red frame round the held picture


def test_a_clip_lasts_its_runs_clip_seconds_whatever_the_envs_timestep(tmp_path):
    from prefrl.control.envs import env_facts
    from prefrl.control.segments import segment_length
    from prefrl.media.clips import RenderPool

    for env_id, seconds in (
        ("HalfCheetah-v5", 1.5),
        ("Swimmer-v5", 1.52),
        ("Reacher-v5", 1.0),
    ):  # Reacher: 1-s episodes
        facts = env_facts(env_id)
        steps = segment_length(facts.dt, 1.5, facts.horizon)
        segment = random_segments(env_id, 1, steps)[0]
        pool = RenderPool(env_id, tmp_path, env_id, ClipConfig(width=32, height=32, steps=steps), workers=1)
        try:
            (path,) = pool.render({1: segment.to_bytes()})
        finally:
            pool.close()
        frames, fps = read_clip(path)
        assert abs(len(frames) / fps - seconds) < 0.02, env_id
