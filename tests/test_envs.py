"""prefrl's own environments: registered on `import prefrl`, valid gymnasium envs, oracles that mean what they say."""

import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from prefrl_envs import ENVS, EPISODE_STEPS, RETIRED
from prefrl_envs.behaviours import backflip_rewards, one_leg_reward

import prefrl  # noqa: F401  (registers prefrl/... ids)


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_each_env_passes_gymnasiums_checker_and_runs_a_fixed_horizon_of_1000_steps_or_its_own(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.spec.max_episode_steps == EPISODE_STEPS.get(env_id, 1000)
    assert EPISODE_STEPS == {"prefrl/HopperBackflip-v9": 250}  # 2 s, one flip; the paper's variants keep 1000
    assert not getattr(env.unwrapped, "_terminate_when_unhealthy", False)  # episodes never end early: no
    # termination leaks the reward
    env.close()


def test_paper_hopper_has_no_control_cost_and_penalises_every_fallen_step():
    env = gym.make("prefrl/PaperHopper-v0")
    env.reset(seed=0)
    rewards, fallen, terminated = [], [], False
    for _ in range(300):  # full torque on one joint tips it over
        _, r, terminated, _, info = env.step(np.array([1.0, -1.0, 1.0]))
        rewards.append(r)
        fallen.append(info["fallen"])
        assert not terminated
        assert info["reward_ctrl"] == 0.0
    assert any(fallen) and not fallen[0]
    down = np.array(fallen)
    # once down: no healthy bonus and a penalty of 1, so about -1 a step (plus whatever forward velocity remains)
    assert np.mean(np.array(rewards)[down]) < -0.5 < np.mean(np.array(rewards)[~down])


def _flip(steps: int = 40, turns: float = 1.0) -> np.ndarray:
    return np.linspace(0, -2 * math.pi * turns, steps)  # the torso turns backwards (rooty decreases)


def test_backflip_oracle_scores_a_landed_backflip_above_a_crash_a_ground_tumble_and_standing_still():
    steps = 40
    up, down = np.full(steps, 1.25), np.full(steps, 0.3)
    in_air_then_landed = np.r_[np.ones(steps - 1, dtype=bool), False]  # on the floor only at the last step
    standing = backflip_rewards(np.zeros(steps), up, np.zeros(steps, dtype=bool)).sum()
    landed = backflip_rewards(_flip(), up, in_air_then_landed).sum()
    crashed = backflip_rewards(_flip(), down, in_air_then_landed).sum()  # same rotation, ends lying down
    tumbled = backflip_rewards(_flip(), up, np.zeros(steps, dtype=bool)).sum()  # the turn made on the floor
    forward = backflip_rewards(-_flip(), up, in_air_then_landed).sum()  # a front flip is not what was asked
    assert standing == pytest.approx(0.0)
    assert landed == pytest.approx(1.0 - 1 / 39 + 5.0)  # the turn's rotation while airborne, + 5 for landing it
    assert crashed == pytest.approx(1.0 - 1 / 39)  # no landing bonus
    assert tumbled == pytest.approx(0.0)  # rotation on the floor pays nothing, and earns no landing bonus
    assert forward == pytest.approx(-1.0)  # forward rotation counts against, in the air or not
    assert landed > crashed > tumbled == standing > forward


@pytest.mark.parametrize("shaped", [False, True], ids=["v1", "v2"])
def test_backflip_oracle_pays_nothing_for_rocking_the_torso_back_in_the_air_and_forward_on_the_floor(shaped):
    rock = np.tile(np.r_[np.linspace(0, -0.5, 10), np.linspace(-0.5, 0, 10)[1:]], 20)
    airborne = np.tile(np.r_[np.ones(10, dtype=bool), np.zeros(9, dtype=bool)], 20)
    assert backflip_rewards(rock, np.full(len(rock), 1.25), airborne, shaped=shaped).sum() <= 1e-9
    # nor does rocking bank credit for a later turn made on the floor: no landing bonus for that turn
    then_roll = np.r_[rock, _flip()[1:]]
    air = np.r_[airborne, np.zeros(39, dtype=bool)]
    assert backflip_rewards(then_roll, np.full(len(then_roll), 1.25), air, shaped=shaped).sum() <= 1e-9


@pytest.mark.parametrize(("air_share", "bonus"), [(0.6, 5.0), (0.4, 0.0)])
def test_a_landed_turn_pays_its_bonus_only_if_at_least_half_of_it_was_made_in_the_air(air_share, bonus):
    steps = 101
    airborne = np.arange(steps) <= air_share * (steps - 1)  # the first part of the turn in the air, then the floor
    total = backflip_rewards(_flip(steps), np.full(steps, 1.25), airborne).sum()
    assert total == pytest.approx(round(air_share * 100) / 100 + bonus)


def test_exactly_one_id_per_behaviour_is_registered_and_the_readme_names_them_all():
    from pathlib import Path

    registered = {env_id for env_id in gym.registry if env_id.startswith("prefrl/")}
    assert registered == set(ENVS) == {
        "prefrl/PaperHopper-v0", "prefrl/PaperWalker2d-v0", "prefrl/PaperHalfCheetah-v0",
        "prefrl/HopperBackflip-v9", "prefrl/HalfCheetahOneLeg-v0",
    }  # fmt: skip
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert all(f"`{env_id}`" in readme for env_id in ENVS)
    assert not set(RETIRED) & registered


def test_the_registered_backflip_is_v9_and_every_retired_design_is_rebuilt_from_its_arguments():
    def oracle(**kwargs):
        steps = kwargs.pop("max_episode_steps", None)
        env = gym.make("prefrl/HopperBackflip-v9", **({"max_episode_steps": steps} if steps else {}), **kwargs)
        return env.unwrapped._oracle, env.spec.max_episode_steps, env.unwrapped._velocity_clip

    old = {"landing_bonus": 5.0, "air_only": True, "shaped": False, "ground_share": 0.0, "judged_steps": None,
           "paid_turns": None, "touch_share": 0.0, "over_cost": 0.0, "touch_height": 0.0}  # fmt: skip
    design = {v: oracle(**RETIRED.get(f"prefrl/HopperBackflip-v{v}", {})) for v in range(11)}
    assert design[0] == ({**old, "landing_bonus": 1.0, "air_only": False}, 1000, 10.0)
    assert design[1] == (old, 1000, 10.0)
    assert design[2] == ({**old, "shaped": True}, 1000, 10.0)
    assert design[3] == ({**design[2][0], "ground_share": 0.5}, 1000, 10.0)
    assert design[4] == ({**design[3][0], "judged_steps": 100}, 1000, 10.0)
    assert design[5] == (design[4][0], 1000, None)  # what the agent sees, not the oracle
    assert design[6] == (design[4][0], 250, None)  # 2-s episodes
    assert design[7] == ({**design[6][0], "paid_turns": 1}, 250, None)
    assert design[8] == ({**design[7][0], "touch_share": 0.5}, 250, None)
    assert design[9] == ({**design[8][0], "over_cost": 1.0}, 250, None)  # the registered one, with no arguments
    assert design[10] == ({**design[9][0], "touch_height": 0.6}, 250, None)


def test_backflip_v0_oracle_pays_ground_rotation_and_1_per_landing():
    up = np.full(40, 1.25)
    v0 = {"landing_bonus": 1.0, "air_only": False}
    assert backflip_rewards(_flip(), up, np.zeros(40, dtype=bool), **v0).sum() == pytest.approx(2.0)
    assert backflip_rewards(_flip(), np.full(40, 0.3), **v0).sum() == pytest.approx(1.0)


def _flight_and_landing(turns: float, after_pitch=None, after_height=None, steps: int = 40, after: int = 30):
    """Pitch, height and airborne flags of a backward flight of `turns` over `steps` steps that touches down at its
    last step, then `after` steps on the floor (by default still, upright, at the touch-down pitch)."""
    pitch = _flip(steps, turns)
    after_pitch = np.full(after, pitch[-1]) if after_pitch is None else after_pitch
    after_height = np.full(after, 1.25) if after_height is None else after_height
    air = np.r_[False, np.ones(steps - 2, dtype=bool), False, np.zeros(after, dtype=bool)]
    height = np.r_[np.full(steps - 1, 1.5), after_height[0], after_height]  # touches down at the height after
    return np.r_[pitch, after_pitch], height, air


def _v2(pitch, height, air, **oracle) -> float:
    return float(backflip_rewards(pitch, height, air, shaped=True, **oracle).sum())


def _in_air(turns: float) -> float:
    return turns * 38 / 39  # the flight's rotation but its last step, made on touching down


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        (1.0, _in_air(1.0) + 5.0),  # a clean flip that sticks its landing
        (1.15, 1.0 + 5 * math.cos(0.15 * 2 * math.pi)),  # over-rotated: no more rotation paid, a tilted landing
        (0.8, _in_air(0.8) + 5 * math.cos(0.2 * 2 * math.pi)),  # under-rotated but within 90 degrees: graded
        (0.7, _in_air(0.7)),  # short of 90 degrees from a turn: not judged
    ],
)
def test_backflip_v2_pays_up_to_one_turn_in_the_air_and_grades_the_landing_by_uprightness(turns, expected):
    assert _v2(*_flight_and_landing(turns)) == pytest.approx(expected)


def test_backflip_v2_pays_for_sticking_the_landing_not_for_touching_down_upright_and_falling_over():
    stuck = _v2(*_flight_and_landing(1.0))
    topple = np.r_[np.linspace(0, 1, 12), np.ones(18)]  # topples backwards onto its back in 0.1 s, lies there
    fell = _v2(*_flight_and_landing(1.0, -2 * math.pi - topple * math.pi / 2, 1.25 - topple * 1.05))
    crashed = _v2(*_flight_and_landing(1.0, after_height=np.full(30, 0.3)))  # landed on its back
    assert stuck > fell + 3.0
    assert fell > crashed == pytest.approx(_in_air(1.0))


def test_backflip_v2_pays_two_flips_twice_and_one_landing_once():
    one = _v2(*_flight_and_landing(1.0))
    first, second = _flight_and_landing(1.0), _flight_and_landing(1.0)
    two = _v2(np.r_[first[0], second[0] - 2 * math.pi], np.r_[first[1], second[1]], np.r_[first[2], second[2]])
    assert two == pytest.approx(2 * one)
    pitch, height, air = _flight_and_landing(1.0, after=60)
    air[-30::2] = True  # bouncing in place after the landing: nothing more
    assert _v2(pitch, height, air) == pytest.approx(one)


def test_backflip_v2_wants_the_turn_in_one_flight():
    # half a turn in the air, down on its back, rolled upright on the floor (free), then a small hop: no bonus
    pitch, height, air = _flight_and_landing(0.55, np.linspace(-0.55, -1.0, 30) * 2 * math.pi, np.full(30, 0.3))
    hop = np.r_[True, True, np.zeros(8, dtype=bool)]
    total = _v2(np.r_[pitch, np.full(10, -2 * math.pi)], np.r_[height, np.full(10, 1.25)], np.r_[air, hop])
    assert total == pytest.approx(_in_air(0.55))


def test_backflip_v2_does_not_charge_straightening_up_from_over_rotation_it_never_paid():
    straighten = np.linspace(-1.1, -1.0, 30) * 2 * math.pi  # lands at 1.1 turns, stands up to 1.0 on the floor
    rotation_only = {"landing_bonus": 0.0}
    assert _v2(*_flight_and_landing(1.1, straighten), **rotation_only) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="air_only"):
        backflip_rewards(_flip(), np.full(40, 1.25), shaped=True, air_only=False)


def _v3(pitch, height, air) -> float:
    return _v2(pitch, height, air, ground_share=0.5)


def test_backflip_v3_pays_backward_rotation_on_the_floor_at_half_rate_up_to_one_turn():
    floor = np.zeros(80, dtype=bool)
    up, lying = np.full(80, 1.25), np.full(80, 0.3)
    standing = _v3(np.zeros(80), up, floor)
    fell_back = _v3(np.linspace(0, -math.pi / 2, 80), np.linspace(1.25, 0.3, 80), floor)  # a quarter turn
    tumbled = _v3(np.linspace(0, -1.8 * 2 * math.pi, 80), lying, floor)  # v0's optimum: 1.8 turns on the floor
    crashed = _v3(*_flight_and_landing(1.0, after_height=np.full(30, 0.3)))
    landed = _v3(*_flight_and_landing(1.0))
    assert standing == pytest.approx(0.0)
    assert fell_back == pytest.approx(0.125)
    assert tumbled == pytest.approx(0.5)  # capped at the next whole turn, and no landing: a turn needs a flight
    # the flight is paid as v2 pays it, and the touch-down step's rotation, on the floor, at half rate
    assert landed == pytest.approx(_v2(*_flight_and_landing(1.0)) + 0.5 / 39)
    assert landed > crashed > tumbled > fell_back > standing


def test_backflip_v3_pays_nothing_for_rocking_the_torso_back_and_forth_on_the_floor():
    rock = np.tile(np.r_[np.linspace(0, -0.5, 10), np.linspace(-0.5, 0, 10)[1:]], 20)
    assert _v3(rock, np.full(len(rock), 1.25), np.zeros(len(rock), dtype=bool)) <= 1e-9
    with pytest.raises(ValueError, match="shaped"):
        backflip_rewards(_flip(), np.full(40, 1.25), ground_share=0.5)


def _v4(pitch, height, air) -> float:
    return _v2(pitch, height, air, ground_share=0.5, judged_steps=100)


def test_backflip_v4_pays_for_getting_up_after_a_crouched_landing_which_v3_hardly_sees():
    crouched = np.full(120, 0.7)  # lands on its folded leg, torso upright, and stays so
    rises = np.r_[np.full(30, 0.7), np.linspace(0.7, 1.25, 30), np.full(60, 1.25)]  # then stands up within 0.5 s
    gain_v4 = _v4(*_flight_and_landing(1.0, after_height=rises, after=120)) - _v4(
        *_flight_and_landing(1.0, after_height=crouched, after=120)
    )
    gain_v3 = _v3(*_flight_and_landing(1.0, after_height=rises, after=120)) - _v3(
        *_flight_and_landing(1.0, after_height=crouched, after=120)
    )
    assert gain_v3 == pytest.approx(0.0)  # its 25 steps are over before the hopper rises
    assert gain_v4 > 1.5
    # a landing held upright earns the same bonus whatever the window, and a stuck one still earns the most
    stuck = _flight_and_landing(1.0, after=120)
    assert _v4(*stuck) == pytest.approx(_v3(*stuck))
    assert _v4(*stuck) > _v4(*_flight_and_landing(1.0, after_height=rises, after=120))
    with pytest.raises(ValueError, match="shaped"):
        backflip_rewards(_flip(), np.full(40, 1.25), judged_steps=100)


def _tumble(flights: int, height: float = 0.5):
    """`flights` backward flights of a turn each, every one coming down folded at `height` and taking off again
    after the 100 steps a landing is graded over."""
    parts = [_flight_and_landing(1.0, after_height=np.full(100, height), after=100) for _ in range(flights)]
    pitch = np.concatenate([p - 2 * math.pi * k for k, (p, _, _) in enumerate(parts)])
    return pitch, np.concatenate([h for _, h, _ in parts]), np.concatenate([a for _, _, a in parts])


def _v7(pitch, height, air) -> float:
    return _v2(pitch, height, air, ground_share=0.5, judged_steps=100, paid_turns=1)


def test_backflip_v7_pays_one_turn_an_episode_so_tumbling_through_more_earns_nothing_but_a_landing_still_does():
    three, one = _tumble(3), _tumble(1)
    assert _v4(*three) > _v4(*one) + 1.5  # v4-v6 pay each further turn and its (poor) landing
    assert _v7(*three) == pytest.approx(_v7(*one))  # v7: the turns after the first pay nothing
    landed = _flight_and_landing(1.0, after=120)  # one flip, stuck
    assert _v7(*landed) == pytest.approx(_v4(*landed))
    assert _v7(*landed) > 3 * _v7(*three)  # on v6 the three-turn tumble earned half a landed flip's return
    with pytest.raises(ValueError, match="shaped"):
        backflip_rewards(_flip(), np.full(40, 1.25), paid_turns=1)


def _v8(pitch, height, air) -> float:
    return _v2(pitch, height, air, ground_share=0.5, judged_steps=100, paid_turns=1, touch_share=0.5)


def test_backflip_v8_pays_half_the_landing_at_touch_down_by_how_near_upright_the_torso_comes_down():
    def crash(turns: float):  # comes down and lies on the floor, torso 0.2 m up: v7's landing grade is 0
        return _flight_and_landing(turns, after_height=np.full(120, 0.2), after=120)

    # v7 pays every crash alike, however near the landing came; v8 pays 2.5 * cos(over-rotation) at the touch-down
    assert _v7(*crash(1.18)) == pytest.approx(_v7(*crash(1.08)))
    for turns in (1.18, 1.08, 0.9):
        assert _v8(*crash(turns)) == pytest.approx(_v7(*crash(turns)) + 2.5 * math.cos((turns - 1) * 2 * math.pi))
    assert _v8(*crash(1.3)) == pytest.approx(_v7(*crash(1.3)))  # past 90 degrees: nothing
    stuck = _flight_and_landing(1.0, after=120)
    assert _v8(*stuck) == pytest.approx(_v7(*stuck))  # a flip landed standing earns the same in full
    assert _v8(*stuck) > _v8(*crash(1.0)) + 2  # and standing up after it still earns half the bonus
    with pytest.raises(ValueError, match="shaped"):
        backflip_rewards(_flip(), np.full(40, 1.25), touch_share=0.5)


def _v9(pitch, height, air) -> float:
    return _v2(pitch, height, air, ground_share=0.5, judged_steps=100, paid_turns=1, touch_share=0.5, over_cost=1.0)


def test_backflip_v9_charges_each_turn_past_the_first_so_a_tumble_is_worth_less_the_further_it_goes():
    one, three = _tumble(1), _tumble(3)
    assert _v8(*three) == pytest.approx(_v8(*one))  # v7, v8: the turns after the first are free
    assert _v9(*three) == pytest.approx(_v9(*one) - 2.0)  # v9: each costs what the first earned
    over = _flight_and_landing(1.3, after_height=np.full(120, 0.2), after=120)  # 0.3 turn past, crashed
    assert _v9(*over) == pytest.approx(_v8(*over) - 0.3)
    stuck = _flight_and_landing(1.0, after=120)
    assert _v9(*stuck) == pytest.approx(_v8(*stuck))  # a flip landed standing is not charged
    # rocking back and forth past the turn is charged once, for the furthest it got
    pitch, height, air = _flight_and_landing(1.2, after=120)
    rock = pitch[-1] + 0.1 * 2 * math.pi * np.sin(np.linspace(0, 6 * math.pi, 120))  # +-0.1 turn, three times
    rocked = np.r_[pitch[:-120], rock], height, air
    assert _v9(*rocked) == pytest.approx(_v8(*rocked) - 0.3, abs=1e-3)
    with pytest.raises(ValueError, match="paid_turns"):
        backflip_rewards(_flip(), np.full(40, 1.25), shaped=True, over_cost=1.0)


def _v10(pitch, height, air) -> float:
    oracle = {"ground_share": 0.5, "judged_steps": 100, "paid_turns": 1, "touch_share": 0.5, "over_cost": 1.0}
    return _v2(pitch, height, air, **oracle, touch_height=0.6)


def test_backflip_v10_pays_the_touch_down_only_to_a_torso_that_comes_down_clear_of_the_floor():
    def landing(height: float):  # one flip, coming down with the torso upright at `height` and staying there
        return _flight_and_landing(1.0, after_height=np.full(120, height), after=120)

    on_the_hip = landing(0.24)  # v9's scripted-reward PPO: sitting on its hip, the leg folded over the torso
    assert _v9(*on_the_hip) == pytest.approx(_v9(*landing(1.25)) - 2.5)  # v9 paid its touch-down in full
    assert _v10(*on_the_hip) == pytest.approx(_v9(*on_the_hip) - 2.5)  # v10 pays it nothing
    assert _v10(*landing(0.45)) == pytest.approx(_v9(*landing(0.45)) - 2.5 * 0.5)  # half, halfway up the ramp
    for height in (0.64, 1.25):  # crouched on the leg (v9's preference PPO, seed 2) or standing: in full
        assert _v10(*landing(height)) == pytest.approx(_v9(*landing(height)))


def test_backflip_env_knows_when_the_hopper_is_off_the_floor_and_pays_rotation_only_then():
    env = gym.make("prefrl/HopperBackflip-v9", **RETIRED["prefrl/HopperBackflip-v1"])
    env.reset(seed=0)
    hopper = env.unwrapped
    for _ in range(20):  # settle on the floor
        _, r, *_ = env.step(np.zeros(3))
    assert not hopper.airborne()
    qpos, qvel = hopper.data.qpos.copy(), hopper.data.qvel.copy()
    qpos[1] += 2.0  # launched high, spinning backwards
    qvel[1], qvel[2] = 3.0, -10.0
    hopper.set_state(qpos, qvel)
    pitch = hopper.data.qpos[2]
    _, r, _, _, info = env.step(np.zeros(3))
    assert hopper.airborne()
    assert r == pytest.approx(-(hopper.data.qpos[2] - pitch) / (2 * math.pi)) and r > 0
    assert info["task_reward"] == r


def test_backflip_v5_shows_the_spin_of_a_flip_which_hopper_v5s_observation_clips_at_10():
    observed = {}
    for version in (4, 5):
        env = gym.make("prefrl/HopperBackflip-v9", **RETIRED[f"prefrl/HopperBackflip-v{version}"])
        env.reset(seed=0)
        hopper = env.unwrapped
        qpos, qvel = hopper.data.qpos.copy(), hopper.data.qvel.copy()
        qpos[1] += 2.0
        qvel[2] = -30.0  # scripted-reward flips turn at up to 37 rad/s; preference PPO's jumps stopped at 10-12
        hopper.set_state(qpos, qvel)
        obs, *_ = env.step(np.zeros(3))
        observed[version] = obs
        assert obs[1] == pytest.approx(hopper.data.qpos[2])  # torso pitch, then joint angles, then velocities
        assert obs[7] == pytest.approx(max(hopper.data.qvel[2], -10.0) if version == 4 else hopper.data.qvel[2])
        env.close()
    assert observed[4][7] == -10.0 and observed[5][7] < -25.0
    assert observed[4][:7] == pytest.approx(observed[5][:7])  # positions alike


def test_a_hopper_kicking_on_the_floor_is_not_airborne_though_it_loses_contact_for_millimetres():
    env = gym.make("prefrl/HopperBackflip-v9", **RETIRED["prefrl/HopperBackflip-v1"])
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    lying_in_air = 0
    for _ in range(600):  # random kicks: it falls within a few dozen steps and flails on the floor
        env.step(rng.uniform(-1, 1, 3))
        lying_in_air += env.unwrapped.airborne() and env.unwrapped.data.qpos[1] < 0.3
    assert lying_in_air == 0


def test_one_leg_oracle_pays_forward_speed_only_while_the_front_leg_is_off_the_floor():
    assert one_leg_reward(2.0, front_leg_on_floor=False) == 2.0
    assert one_leg_reward(2.0, front_leg_on_floor=True) == 0.0
    env = gym.make("prefrl/HalfCheetahOneLeg-v0")
    env.reset(seed=0)
    for _ in range(20):  # settle on the floor: both legs down, nothing earned
        _, r, *_ = env.step(np.zeros(6))
    assert env.unwrapped.front_leg_on_floor() and r == 0.0
    data = env.unwrapped.data
    qpos, qvel = data.qpos.copy(), data.qvel.copy()
    qpos[1] += 1.0  # lifted clear of the floor, moving forward at 3 m/s
    qvel[0] = 3.0
    env.unwrapped.set_state(qpos, qvel)
    _, r, _, _, info = env.step(np.zeros(6))
    assert not env.unwrapped.front_leg_on_floor() and r == pytest.approx(info["x_velocity"]) and r > 2.0


def test_making_a_gymnasium_mujoco_env_prints_no_warning_the_user_cannot_act_on(capfd, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gym.make("HalfCheetah-v5").close()  # its model file uses the deprecated settotalmass
    assert "settotalmass" not in capfd.readouterr().err
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()
