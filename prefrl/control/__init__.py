"""The paper's setting: PPO in MuJoCo learning from preferences between short clips of its own behaviour."""
