"""The domain-free preference core: comparisons, label store, reward ensemble, selection, teachers, schedule.

Nothing here knows about MuJoCo, pygame or tokenizers; the control and text domains plug into it.
"""
