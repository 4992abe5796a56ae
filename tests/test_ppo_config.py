from prefrl.control.ppo_config import PPOConfig, ppo_config_for


def test_ppo_presets_follow_the_env_family():
    assert ppo_config_for("HalfCheetah-v5").n_epochs == 20  # RL Zoo's tuned preset
    assert ppo_config_for("Hopper-v5") == PPOConfig()  # SB3 defaults: the zoo preset stood still on v5
    assert ppo_config_for("Walker2d-v5") == PPOConfig()  # SB3 defaults: 2.6-2.8x cheaper, and the zoo preset's
    # preference run fell apart on v5
    assert ppo_config_for("Walker2d-v5", n_epochs=3).n_epochs == 3
