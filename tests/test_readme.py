"""The README's Python example runs as printed, with only its step and label budgets shrunk."""

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
SHRUNK = {
    "labels=700, timesteps=500_000": "labels=8, timesteps=512, eval_freq=256, eval_episodes=1, progress=False, "
    "ppo={'n_steps': 256, 'n_epochs': 1}",
    "trainer.learn(1_000_000)": "trainer.learn(1024)",
}


def python_example() -> str:
    text = README.read_text()
    section = text[text.index("## From Python") :]
    return section[
        section.index("```python") + len("```python") : section.index("```\n", section.index("```python") + 9)
    ]


def test_the_readme_python_example_runs_and_its_trainer_acts_saves_loads_and_learns_on(tmp_path, monkeypatch):
    code = python_example()
    for printed, small in SHRUNK.items():
        assert printed in code, f"the README example no longer says {printed!r}: update this test's budgets"
        code = code.replace(printed, small)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, str(README), "exec"), scope)
    assert scope["action"].shape == (3,)  # Hopper's action, for one observation
    assert (tmp_path / "runs" / "hopper-copy" / "config.json").exists()
    assert scope["trainer"].policy.num_timesteps == 1024
