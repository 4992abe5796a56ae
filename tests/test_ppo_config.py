from prefrl.control.ppo_config import PPOConfig, ppo_config_for


def test_ppo_presets_follow_the_env_family():
    assert ppo_config_for("HalfCheetah-v5").n_epochs == 20  # RL Zoo's tuned preset
    assert ppo_config_for("Hopper-v5") == PPOConfig()  # SB3 defaults: the zoo preset stood still on v5
    assert ppo_config_for("Walker2d-v5") == PPOConfig()  # SB3 defaults: 2.6-2.8x cheaper, and the zoo preset's
    # preference run fell apart on v5
    assert ppo_config_for("Walker2d-v5", n_epochs=3).n_epochs == 3


def test_the_alive_bonus_defaults_per_env_family_and_only_for_the_learned_reward():
    from prefrl.control.trainer import TrainConfig

    assert TrainConfig(env="Hopper-v5").resolved().alive_bonus == 0.5  # what lifted Hopper's six seeds
    assert TrainConfig(env="HalfCheetah-v5").resolved().alive_bonus == 0.0
    assert TrainConfig(env="prefrl/HopperBackflip-v1").resolved().alive_bonus == 0.0  # another family
    assert TrainConfig(env="Hopper-v5", alive_bonus=0.0).resolved().alive_bonus == 0.0  # asked for: kept
    assert TrainConfig(env="Hopper-v5", reward="true").resolved().alive_bonus == 0.0  # nothing learned to add to
    # a run folder from before the default keeps the bonus it ran with
    assert TrainConfig.from_dict({"env": "Hopper-v5"}).resolved().alive_bonus == 0.0
