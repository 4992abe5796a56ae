import os

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import torch

# the networks here are tiny: one thread is fastest, and it keeps a 2-core CI box from thrashing
torch.set_num_threads(1)
