"""Bad input ends as one line that names the problem and the fix; nothing is written or overwritten."""

import pytest
import torch

from prefrl.cli import main


def run_cli(capsys, *args):
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    return code, err


def assert_one_line_error(code, err, *needles):
    assert code == 2
    assert err.startswith("prefrl: error: ") and "\n" not in err and "Traceback" not in err
    for needle in needles:
        assert needle in err


def test_unknown_env_suggests_close_matches(capsys, tmp_path):
    code, err = run_cli(capsys, "train", "--env", "HalfCheeta-v5", "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, "HalfCheeta-v5", "did you mean", "HalfCheetah-v5")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--labels", "0"], "--labels must be positive"),
        (["--labels", "-3"], "--labels must be positive"),
        (["--timesteps", "0"], "--timesteps must be positive"),
        (["--timesteps", "100"], "less than one PPO rollout"),
        (["--labels", "2"], "use at least 3 labels"),
        (["--label-halving", "0"], "halving time must be positive"),
        (["--clip-seconds", "0"], "--clip-seconds must be a positive number of seconds"),
        (["--clip-seconds", "nan"], "--clip-seconds must be a positive number of seconds"),
        (["--refit-lag", "-1"], "--refit-lag counts rollouts"),
        (["--fit-threads", "0"], "--fit-threads must be at least 1"),
        (["--segment-length", "0"], "--segment-length counts steps per clip"),
        (["--buffer-size", "1"], "--buffer-size counts the clips"),
        (["--candidate-factor", "0"], "--candidate-factor and --query-batch must be at least 1"),
        (["--top-share", "0"], "--top-share must be above 0 and at most 1"),
        (["--top-share", "1.5"], "--top-share must be above 0 and at most 1"),
        (["--ppo", "learning_rate=-1"], "--ppo learning_rate=-1.0: must be a positive number"),
        (["--ppo", "activation=foo"], "--ppo activation=foo: must be one of relu, tanh"),
        (["--ppo", "n_steps=0"], "--ppo n_steps=0: must be at least 2"),
        (["--ppo", "batch_size=4096"], "--ppo batch_size=4096: must be between 1 and n_steps (512)"),
        (["--ppo", "gamma=1.5"], "--ppo gamma=1.5: must be in (0, 1]"),
        (["--reward-model", "lr=0"], "--reward-model lr=0.0: must be a positive number"),
        (["--reward-model", "random_response=1"], "--reward-model random_response=1.0: must be in [0, 1)"),
        (["--members", "0"], "--members 0: must be at least 1"),
        (["--eval-episodes", "0"], "--eval-episodes must be at least 1"),
        (["--eval-freq", "0"], "--eval-freq counts steps between evaluations"),
        (["--seed", "-1"], "--seed must be between 0 and 2**32 - 1"),
        (["--clip-size", "0"], "--clip-size is the clips' width and height in pixels, 16 to 4096"),
        (["--clip-fps", "0"], "--clip-fps must be a positive frame rate"),
        (["--labels", "1000000", "--timesteps", "4096"], "asks 250000 labels before PPO starts"),
    ],
)
def test_budgets_that_cannot_work_are_refused(capsys, tmp_path, flags, needle):
    code, err = run_cli(capsys, "train", *flags, "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, needle)


def test_existing_run_folder_needs_resume(capsys, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "labels.sqlite").write_bytes(b"precious")
    code, err = run_cli(capsys, "train", "--out", str(out))
    assert_one_line_error(code, err, "already exists", f"--resume {out}")
    assert (out / "labels.sqlite").read_bytes() == b"precious"


def test_an_out_folder_that_is_a_file_is_refused(capsys, tmp_path):
    (tmp_path / "f").write_text("mine")
    code, err = run_cli(capsys, "train", "--out", str(tmp_path / "f"))
    assert_one_line_error(code, err, "is a file, not a folder")
    assert (tmp_path / "f").read_text() == "mine"


def test_an_out_folder_that_cannot_be_created_is_refused_before_any_label(capsys):
    code, err = run_cli(capsys, "train", "--out", "/dev/null/run")
    assert_one_line_error(code, err, "cannot write the run folder /dev/null/run", "choose another --out")


def test_resume_of_a_folder_that_is_not_a_run(capsys, tmp_path):
    code, err = run_cli(capsys, "train", "--resume", str(tmp_path))
    assert_one_line_error(code, err, "not a prefrl run folder")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_on_a_machine_without_one(capsys, tmp_path):
    code, err = run_cli(capsys, "train", "--device", "cuda", "--out", str(tmp_path / "r"))
    assert_one_line_error(code, err, "no usable CUDA GPU", "--device cpu")


def test_bench_refuses_a_label_halving_that_is_not_positive_before_starting_any_cell(capsys, tmp_path):
    work = tmp_path / "work"
    code, err = run_cli(capsys, "bench", "--label-halving", "-1", "--work", str(work), "--results", str(tmp_path / "r"))
    assert_one_line_error(code, err, "--label-halving", "halving time must be positive")
    assert not work.exists()


def _loading_torch(pid: int) -> bool:
    """Whether the process has started mapping torch's libraries: the interpreter is up and importing it."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return "torch" in maps.read()
    except OSError:
        return False


@pytest.mark.parametrize("moment", ["while it imports torch", "once the run is under way"])
def test_ctrl_c_at_any_moment_stops_with_one_line_and_no_traceback(tmp_path, moment):
    import os
    import signal
    import subprocess
    import sys
    import time

    args = ["train", "--env", "Hopper-v5", "--timesteps", "200000", "--labels", "100", "--quiet"]
    run = subprocess.Popen(
        [sys.executable, "-m", "prefrl", *args, "--out", str(tmp_path / "r")],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job has
    )
    # a fixed delay is not a moment: on a loaded machine the interpreter may not even be up after a second
    deadline = time.monotonic() + 60
    while not _loading_torch(run.pid) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.poll() is None, "the run ended before it was interrupted"
    if moment == "once the run is under way":
        time.sleep(5.0)
    os.killpg(run.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130
    assert "Traceback" not in err and "stopped" in err


def test_ctrl_c_inside_an_import_that_runs_exec_still_exits_with_130(tmp_path):
    """Ctrl-C that lands in a module's `exec` of generated code (dataclasses do this) is handled like any other."""
    import os
    import subprocess
    import sys

    (tmp_path / "interrupted_prefrl.py").write_text(
        "import prefrl.cli as cli\n"
        "def interrupted(args):\n"
        "    exec('raise KeyboardInterrupt')  # where Ctrl-C lands while torch builds a dataclass\n"
        "cli._train = interrupted\n"
        "raise SystemExit(cli.main(['train']))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    # run with -m, as `python -m prefrl` is: only then does the exit status come from the interpreter's own check
    run = subprocess.run(
        [sys.executable, "-m", "interrupted_prefrl"], capture_output=True, text=True, timeout=120, env=env
    )
    assert run.returncode == 130, run.stderr
    assert "Traceback" not in run.stderr and "stopped" in run.stderr
