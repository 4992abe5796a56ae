"""Novel behaviours with a scripted oracle, to benchmark headless and then teach by hand in the labelling window.

Each env's reward is its task's *hidden* true reward: with `prefrl train` the agent only ever sees the learned
reward, and the synthetic oracle compares clips by this one (also in info["task_reward"]).

- `HopperBackflip` (`prefrl/HopperBackflip-v9`): a backflip landed on the foot. The oracle is built from parts
  (`BackflipCounter`, `ShapedBackflipCounter`) whose settings earlier designs varied; what each obstacle was and
  what fixed it is in docs/notes/backflip.md.
- `HalfCheetahOneLeg` (`prefrl/HalfCheetahOneLeg-v0`): running on the back leg alone.
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv

TWO_PI = 2 * math.pi
CLEARANCE = 0.02
"""Metres between the floor and the hopper's lowest part for HopperBackflip-v1 to count it as airborne."""


def make_counter(
    pitch: float,
    landing_bonus: float = 5.0,
    air_only: bool = True,
    shaped: bool = False,
    ground_share: float = 0.0,
    judged_steps: int | None = None,
    paid_turns: int | None = None,
    touch_share: float = 0.0,
    over_cost: float = 0.0,
    touch_height: float = 0.0,
) -> BackflipCounter | ShapedBackflipCounter:
    """The backflip oracle of a version's settings (v0: landing_bonus=1, air_only=False; v1: the defaults; v2:
    shaped=True; v3: shaped=True, ground_share=0.5; v4: v3's and judged_steps=100; v7: v4's and paid_turns=1; v8:
    v7's and touch_share=0.5; v9: v8's and over_cost=1; v10: v9's and touch_height=0.6), starting from the torso
    pitch at reset."""
    if shaped:
        if not air_only:
            raise ValueError("the shaped oracle pays rotation in the air only: air_only=False is v0's, not v2's")
        return ShapedBackflipCounter(
            pitch,
            landing_bonus,
            ground_share,
            judged_steps or JUDGED_STEPS,
            paid_turns,
            touch_share,
            over_cost,
            touch_height,
        )
    if ground_share or judged_steps or paid_turns or touch_share or over_cost or touch_height:
        raise ValueError(
            "ground_share, judged_steps, paid_turns, touch_share, over_cost and touch_height are the shaped oracle's"
            " (v3's, v4's, v7's-v10's): pass shaped=True"
        )
    return BackflipCounter(pitch, landing_bonus, air_only)


def tilt(pitch: float) -> float:
    """The torso's angle from upright in (-pi, pi], whatever turns it has made."""
    return (pitch + math.pi) % TWO_PI - math.pi


def backward_turns(pitch: float, start: float) -> float:
    """Net backward turns of the torso since `start` (rooty grows as it tips forward, so backward is negative)."""
    return -(pitch - start) / TWO_PI


def upright(pitch: float, height: float) -> bool:
    return abs(tilt(pitch)) < 0.5 and height > 0.9


class BackflipCounter:
    """The backflip oracle as a running tally over one episode (pure, so tests can feed it hand-made motions).

    The defaults are v1's; `landing_bonus=1, air_only=False` is v0's.
    """

    def __init__(self, pitch: float, landing_bonus: float = 5.0, air_only: bool = True) -> None:
        self.start = self.last = pitch
        self.landed = 0
        self.landing_bonus = landing_bonus
        self.air_only = air_only
        self.air_turns = 0.0  # paid rotation since the last paid landing: backward in the air less forward anywhere

    def step(self, pitch: float, height: float, airborne: bool = True) -> float:
        backward = backward_turns(pitch, self.last)
        self.last = pitch
        reward = backward if (airborne or backward < 0 or not self.air_only) else 0.0
        self.air_turns += reward  # paid rotation: rocking back in the air and forward on the floor nets nothing
        turns = math.floor(backward_turns(pitch, self.start) + 0.1)  # a turn is done within ~36 degrees of upright
        if turns > self.landed and upright(pitch, height):
            new = turns - self.landed
            if not self.air_only or (not airborne and self.air_turns >= 0.5 * new):
                reward += self.landing_bonus * new
                self.landed = turns
                self.air_turns = 0.0
        return reward


def uprightness(pitch: float, height: float) -> float:
    """1 for a torso upright at standing height, falling to 0 when tilted 90 degrees or lower than 0.4 m."""
    return max(0.0, math.cos(tilt(pitch))) * min(1.0, max(0.0, (height - 0.4) / 0.6))


JUDGED_STEPS = 25
"""Steps (0.2 s) from a touch-down over which HopperBackflip-v2 and v3 grade the landing (v4: 100)."""


class ShapedBackflipCounter:
    """v2's oracle: v1's, shaped the way a person comparing two clips would judge them.

    - Rotation in the air counts towards the next whole turn only: over-rotating is no better than one turn.
    - A flight that turned at least half a turn and comes down within 90 degrees of a completed turn is judged: the
      landing bonus is paid over `judged_steps` steps from the touch-down (v2, v3: JUDGED_STEPS; v4: 100), in
      proportion to `uprightness` at each, so a near-landing beats a crash, and sticking the landing beats touching
      down upright and falling over; the longer window of v4 also pays for getting up after landing crouched.
    - Forward rotation counts against, except where it takes back over-rotation that was never paid.
    - Backward rotation on the floor pays `ground_share` of the rate in the air (v2: 0, v3: 0.5), under the same cap;
      it does not count towards the half turn a flight needs to be judged.
    - At most `paid_turns` turns are paid and judged in an episode (None: any number; v7: 1), so tumbling on through
      more turns earns nothing once the first has been judged: only its landing can still differ.
    - `touch_share` of the bonus (v2-v7: 0; v8: 0.5) is paid at the touch-down itself, in proportion to how near
      upright the torso comes down (cos of its tilt, 0 past 90 degrees), the rest over `judged_steps` as above: a
      flip that over-rotates 60 degrees and crashes earns part of it, one over-rotating 30 degrees more. With
      `touch_height` (v10: 0.6 m) it is paid in full only if the torso is that high at the touch-down, falling to
      nothing 0.3 m lower: v9's scripted-reward PPO came down sitting on its hip, torso upright 0.24 m up and its leg
      folded over it, and earned the lot.
    - Turning on past the `paid_turns` costs `over_cost` a turn (v2-v8: 0; v9: 1), in the air or on the floor, counted
      once up to the furthest the torso has got: rocking back and forth past it is charged only for new ground.
    Unlike v1, a turn must be made in one flight, and a judged touch-down uses its turn up, whatever the bonus.
    """

    def __init__(
        self,
        pitch: float,
        landing_bonus: float = 5.0,
        ground_share: float = 0.0,
        judged_steps: int = JUDGED_STEPS,
        paid_turns: int | None = None,
        touch_share: float = 0.0,
        over_cost: float = 0.0,
        touch_height: float = 0.0,
    ) -> None:
        if over_cost and paid_turns is None:
            raise ValueError("over_cost charges turns past paid_turns: give paid_turns too")
        self.start = self.last = pitch
        self.paid_turns = paid_turns
        self.touch_share = touch_share
        self.touch_height = touch_height
        self.over_cost = over_cost
        self.beyond = 0.0  # the furthest the torso has turned past paid_turns
        self.judged_steps = judged_steps
        self.landed = 0  # completed turns already judged at a touch-down
        self.landing_bonus = landing_bonus
        self.ground_share = ground_share
        self.flight = 0.0  # paid rotation in the current flight
        self.credit = 0.0  # over-rotation past the last cap that was never paid
        self.judging = 0  # steps of landing grading left
        self.was_airborne = False

    def progress(self, pitch: float) -> float:
        """Net backward turns since the episode began."""
        return backward_turns(pitch, self.start)

    def step(self, pitch: float, height: float, airborne: bool = True) -> float:
        cap = self.landed + 1.0 if self.paid_turns is None else min(self.landed + 1.0, self.paid_turns)
        delta = min(self.progress(pitch), cap) - min(self.progress(self.last), cap)
        self.last = pitch
        if delta < 0 and self.credit > 0:  # straightening up from an over-rotation that earned nothing: free
            taken = min(self.credit, -delta)
            self.credit -= taken
            delta += taken
        over = 0.0
        if self.over_cost:
            beyond = max(self.beyond, self.progress(pitch) - self.paid_turns)  # type: ignore[operator]
            over, self.beyond = self.over_cost * (beyond - self.beyond), beyond
        in_air = airborne or delta < 0  # forward rotation counts against anywhere, as rotation in the air does
        reward = (delta if in_air else self.ground_share * delta) - over
        self.flight += delta if in_air else 0.0
        if self.was_airborne and not airborne:  # touch-down
            progress = self.progress(pitch)
            turns = math.floor(progress + 0.25)  # judged within 90 degrees of a completed turn
            if turns > self.landed and (self.paid_turns is None or self.landed < self.paid_turns):
                if self.flight >= 0.5:
                    self.judging = self.judged_steps
                    clear = min(1.0, max(0.0, (height - self.touch_height) / 0.3 + 1)) if self.touch_height else 1.0
                    reward += self.landing_bonus * self.touch_share * max(0.0, math.cos(tilt(pitch))) * clear
                self.credit = max(0.0, min(progress, turns + 1.0) - cap)
                self.landed = turns
            self.flight = 0.0
        if self.judging:
            reward += self.landing_bonus * (1 - self.touch_share) / self.judged_steps * uprightness(pitch, height)
            self.judging -= 1
        self.was_airborne = airborne
        return reward


def backflip_rewards(
    pitch: np.ndarray, height: np.ndarray, airborne: np.ndarray | None = None, **oracle: float | bool
) -> np.ndarray:
    """Oracle reward of each step of a motion given as torso pitch (rad), height and whether it is off the floor
    (default: always), starting at step 0's state. `oracle` takes make_counter's settings (v0: landing_bonus=1,
    air_only=False; v2: shaped=True; v3: shaped=True, ground_share=0.5; v4: v3's and judged_steps=100; v7: v4's and
    paid_turns=1; v8: v7's and touch_share=0.5; v9: v8's and over_cost=1; v10: v9's and touch_height=0.6)."""
    air = np.ones(len(pitch), dtype=bool) if airborne is None else np.asarray(airborne, dtype=bool)
    counter = make_counter(float(pitch[0]), **oracle)
    return np.array([counter.step(float(p), float(h), bool(a)) for p, h, a in zip(pitch[1:], height[1:], air[1:])])


class HopperBackflip(HopperEnv):
    """## Description
    Hopper-v5's body, taught to do a backflip and land it on its foot. The reward is a scripted oracle's: what a
    person comparing two clips would prefer. Headless benchmarks teach it with the perfect synthetic teacher on this
    reward; with `--teacher human` a person does the judging.

    ## Action and observation spaces
    As Hopper-v5: 3 torques in [-1, 1]; 11 numbers, positions then velocities, except that joint velocities are not
    clipped (`velocity_clip`), so a fast spin can be told from a slower one.

    ## Rewards
    Per step: backward rotation of the torso, as a fraction of a turn, while airborne (every part 2 cm or more above
    the floor), and at half that rate on the floor (`ground_share`), counted up to the first whole turn
    (`paid_turns`); each turn past it costs `over_cost`, so a tumble is worth less the further it goes. A flight that
    turned at least half a turn and comes down within 90 degrees of a completed turn is judged: `touch_share` of the
    landing bonus (5) at the touch-down, by how near upright the torso comes down, and the rest over the next
    `judged_steps` steps, by how upright and high the torso stands. A flip landed standing scores about 6.
    `info["task_reward"]` repeats the step's reward.

    ## Starting state and episode end
    Hopper-v5's starting state; episodes never end early (falling is in the reward, not in the episode's length)
    and last 250 steps (2 s), time for one flip and its landing.

    ## Arguments
    The oracle's settings (`landing_bonus`, `air_only`, `shaped`, `ground_share`, `judged_steps`, `paid_turns`,
    `touch_share`, `over_cost`, `touch_height`; see `ShapedBackflipCounter`) and `velocity_clip`, then Hopper-v5's.

    ## Version history
    v9 is the design on which preference PPO landed a flip (docs/notes/backflip.md). v0-v8 and v10 are rebuilt from
    `prefrl_envs.RETIRED` (CHANGELOG.md).
    """

    def __init__(  # type: ignore[no-untyped-def]
        self,
        landing_bonus: float = 5.0,
        air_only: bool = True,
        shaped: bool = True,
        ground_share: float = 0.5,
        judged_steps: int | None = 100,
        paid_turns: int | None = 1,
        touch_share: float = 0.5,
        over_cost: float = 1.0,
        touch_height: float = 0.0,
        velocity_clip: float | None = None,
        **kwargs,
    ) -> None:
        self._velocity_clip = velocity_clip  # Hopper-v5 clips at 10
        super().__init__(terminate_when_unhealthy=False, **kwargs)
        self._oracle: dict[str, float | bool | None] = dict(
            landing_bonus=landing_bonus, air_only=air_only, shaped=shaped, ground_share=ground_share,
            judged_steps=judged_steps, paid_turns=paid_turns, touch_share=touch_share, over_cost=over_cost,
            touch_height=touch_height,
        )  # fmt: skip
        self._counter: BackflipCounter | ShapedBackflipCounter | None = None
        import mujoco

        self._distance = mujoco.mj_geomDistance
        self._floor = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
        assert self._floor >= 0, "Hopper's model has no geom named floor"
        self._parts = [g for g in range(self.model.ngeom) if g != self._floor]
        self._fromto = np.zeros(6)

    def airborne(self) -> bool:
        """Every part of the hopper at least CLEARANCE above the floor. Contacts alone would not do: a hopper lying
        down and kicking loses contact for a few millimetres and steps at a time, which is not flight."""
        return all(
            self._distance(self.model, self.data, self._floor, g, CLEARANCE, self._fromto) >= CLEARANCE
            for g in self._parts
        )

    def _get_obs(self) -> np.ndarray:
        """Hopper-v5's observation, with joint velocities clipped at `velocity_clip` (None: not clipped)."""
        obs = super()._get_obs()  # positions, then the velocities clipped at 10
        if self._velocity_clip != 10.0:
            velocity = self.data.qvel.flatten()
            if self._velocity_clip is not None:
                velocity = np.clip(velocity, -self._velocity_clip, self._velocity_clip)
            obs[-velocity.size :] = velocity
        return obs

    def reset_model(self):  # type: ignore[no-untyped-def]
        obs = super().reset_model()
        self._counter = make_counter(float(self.data.qpos[2]), **self._oracle)  # type: ignore[arg-type]
        return obs

    def step(self, action):  # type: ignore[no-untyped-def]
        obs, _, terminated, truncated, info = super().step(action)
        assert self._counter is not None, "reset() before step()"
        reward = self._counter.step(float(self.data.qpos[2]), float(self.data.qpos[1]), self.airborne())
        info["task_reward"] = reward
        return obs, reward, terminated, truncated, info


def one_leg_reward(x_velocity: float, front_leg_on_floor: bool) -> float:
    return 0.0 if front_leg_on_floor else float(x_velocity)


class HalfCheetahOneLeg(HalfCheetahEnv):
    """## Description
    HalfCheetah-v5's body, running forward on its back leg alone.

    ## Action and observation spaces
    As HalfCheetah-v5: 6 torques in [-1, 1]; 17 numbers (positions without the x coordinate, then velocities).

    ## Rewards
    Per step, the forward velocity, counted only while no part of the front leg (thigh, shin, foot) touches the
    floor; otherwise 0. `info["task_reward"]` repeats it.

    ## Starting state and episode end
    As HalfCheetah-v5: 1000 steps, never ending early.

    ## Arguments
    HalfCheetah-v5's.

    ## Version history
    v0: the only design.
    """

    FRONT_LEG = ("fthigh", "fshin", "ffoot")

    def __init__(self, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**kwargs)
        import mujoco

        model = self.model
        self._floor = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
        self._front = {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, g) for g in self.FRONT_LEG}

    def front_leg_on_floor(self) -> bool:
        for i in range(self.data.ncon):
            pair = {int(self.data.contact[i].geom1), int(self.data.contact[i].geom2)}
            if self._floor in pair and pair & self._front:
                return True
        return False

    def step(self, action):  # type: ignore[no-untyped-def]
        obs, _, terminated, truncated, info = super().step(action)
        reward = one_leg_reward(info["x_velocity"], self.front_leg_on_floor())
        info["task_reward"] = reward
        return obs, reward, terminated, truncated, info
