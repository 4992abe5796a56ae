"""Ant-v5 without contact forces in the observation (what Ant-v4 and RL Zoo's v3 runs observed)."""
import gymnasium as gym


def ant_v5_without_contact_forces() -> gym.Env:
    return gym.make("Ant-v5", include_cfrc_ext_in_observation=False)
