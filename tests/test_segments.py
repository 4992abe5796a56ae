import numpy as np

from prefrl.control.segments import Segment, SegmentCutter, batch_features, segment_length


def feed(cutter, n_steps, done_at=(), truncated_at=()):
    out = []
    for t in range(n_steps):
        done = t in done_at or t in truncated_at
        info = {"qpos": np.full(3, t, float), "qvel": np.full(2, -t, float)}
        if t in truncated_at:
            info["TimeLimit.truncated"] = True
        out += cutter.add(
            np.full((1, 4), t, np.float32),
            np.full((1, 2), t, np.float32),
            np.array([float(t)]),
            np.array([done]),
            [info],
        )
    return out


def test_a_clip_is_its_seconds_of_simulated_time_in_steps_and_never_longer_than_an_episode():
    assert segment_length(0.05, 1.5) == 30  # HalfCheetah
    assert segment_length(0.008, 1.5) == 188  # Hopper, Walker2d
    assert segment_length(0.02, 1.5, horizon=50) == 50  # Reacher: its whole 1-s episode
    assert segment_length(0.5, 0.1) == 1  # never empty


def test_segments_have_fixed_length_and_carry_state_and_true_reward():
    segs = feed(SegmentCutter(1, 5), 12)
    assert [len(s) for s in segs] == [5, 5]
    s = segs[1]
    assert s.start == 5 and s.true_rewards.tolist() == [5, 6, 7, 8, 9]
    assert s.qpos[:, 0].tolist() == [5, 6, 7, 8, 9] and s.qvel.shape == (5, 2)
    assert s.features.shape == (5, 6)


def test_segments_never_cross_an_episode_boundary():
    segs = feed(SegmentCutter(1, 5), 20, done_at={6}, truncated_at={13})
    for s in segs:
        steps = s.obs[:, 0].astype(int).tolist()
        assert steps == list(range(steps[0], steps[0] + len(s)))  # consecutive steps
        assert not {6, 13} & set(steps[:-1])  # an episode end can only be a segment's last step
    # steps 0-4: full; 5-6: cut short by termination (kept); 7-11 full; 12-13: cut by time limit (dropped); 14-18
    assert [(s.start, len(s), s.terminated) for s in segs] == [
        (0, 5, False),
        (5, 2, True),
        (0, 5, False),
        (0, 5, False),
    ]
    assert segs[1].episode != segs[2].episode


def test_segment_round_trips_through_bytes():
    s = feed(SegmentCutter(1, 4), 4)[0]
    back = Segment.from_bytes(s.to_bytes())
    assert np.array_equal(back.obs, s.obs) and np.array_equal(back.qpos, s.qpos)
    assert (back.episode, back.start, back.terminated) == (s.episode, s.start, s.terminated)


def test_short_segments_are_padded_and_masked():
    segs = feed(SegmentCutter(1, 5), 7, done_at={6})
    items, mask = batch_features(segs, 5)
    assert items.shape == (2, 5, 6)
    assert mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    assert (items[1, 2:] == 0).all()


def test_up_front_collection_ends_even_when_the_buffer_is_smaller_than_what_it_collects(tmp_path):
    from prefrl.control.config import TrainConfig
    from prefrl.control.trainer import Trainer

    trainer = Trainer(TrainConfig(env="HalfCheetah-v5", buffer_size=5, segment_length=10), tmp_path)
    trainer.loop.collect_random_segments(12)
    assert len(trainer.loop.buffer) == 5 and trainer.loop.pretrain_steps == 120
