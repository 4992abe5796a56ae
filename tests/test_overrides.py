"""--ppo / --reward-model KEY=VALUE: converted to the field's type, and a bad key or value is a one-line error."""

import argparse
import subprocess
import sys

import pytest

from prefrl.control.ppo_config import PPOConfig
from prefrl.core.reward_config import RewardConfig
from prefrl.overrides import override_type
from prefrl.text.config import TextPPOConfig


def test_each_value_takes_the_type_its_field_declares():
    ppo, reward, text = override_type(PPOConfig), override_type(RewardConfig), override_type(TextPPOConfig)
    assert ppo("n_epochs=10") == ("n_epochs", 10)
    assert ppo("learning_rate=1e-4") == ("learning_rate", 1e-4)
    assert ppo("net_arch=256,256") == ("net_arch", [256, 256])
    assert ppo("normalize=false") == ("normalize", False) and ppo("ortho_init=yes") == ("ortho_init", True)
    assert ppo("activation=relu") == ("activation", "relu")
    assert reward("l2_band=1.2,1.4") == ("l2_band", (1.2, 1.4))
    assert reward("refit_max_steps=none") == ("refit_max_steps", None)
    assert reward("refit_max_steps=32") == ("refit_max_steps", 32)
    assert text("lam=1") == ("lam", 1.0) and text("adaptive_kl=0") == ("adaptive_kl", False)


@pytest.mark.parametrize(
    "text, says",
    [("bogus=1", "KEY one of n_steps"), ("n_epochs", "KEY one of"), ("n_epochs=ten", "n_epochs must be int"),
     ("normalize=maybe", "normalize must be bool"), ("gamma=none", "gamma must be float")],
)  # fmt: skip
def test_a_bad_override_names_the_problem(text, says):
    with pytest.raises(argparse.ArgumentTypeError, match=says):
        override_type(PPOConfig)(text)


def test_the_cli_rejects_a_bad_override_in_one_line_before_any_run_starts(tmp_path):
    for cmd in (["train", "--ppo", "n_epochs=ten"], ["bench", "--reward-model", "refit_max_steps=lots"]):
        out = subprocess.run([sys.executable, "-m", "prefrl", *cmd, "--work" if cmd[0] == "bench" else "--out",
                              str(tmp_path / cmd[0])], capture_output=True, text=True)  # fmt: skip
        assert out.returncode == 2
        assert "must be int" in out.stderr.strip().splitlines()[-1] and "Traceback" not in out.stderr
        assert not (tmp_path / cmd[0]).exists()
