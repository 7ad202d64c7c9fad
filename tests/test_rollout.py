"""The one episode loop (``policies.rollout``), the ``CommandLatency`` wrapper and the ``NavTask`` rules."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from envs import CommandLatency, MobileNavEnv, NavTask
from policies.rollout import ActionObserver, Observer, PolicyStepError, TrajectoryObserver, rollout
from sim.protocol import CORE_SEQUENCES, keys_to_actions
from sim.scenario import build_scenario

PLAIN = {"randomization": {"enabled": False}, "camera": {"width": 32, "height": 18},
         "robot": {"press_yaw_rad": 0.0}}
SCENARIO = "1box_hori_left_core_medium"
W = np.array([1.15, 0, 0], np.float32)


@pytest.fixture(scope="module")
def plain_env():
    e = MobileNavEnv(config=PLAIN)
    yield e
    e.close()


class Keys:
    """Plays a fixed action list, then the stop key."""

    def __init__(self, actions):
        self.actions = list(actions)

    def reset(self, instruction):
        self.i = 0

    def act(self, obs):
        self.i += 1
        return self.actions[self.i - 1] if self.i <= len(self.actions) else np.zeros(3, np.float32)


class Log(Observer):
    def __init__(self):
        self.calls = []

    def on_reset(self, env, obs, info):
        self.calls.append("reset")

    def before_act(self, env, obs):
        self.calls.append("before")

    def on_act(self, env, action, elapsed_s):
        self.calls.append("act")

    def on_step(self, env, action, obs, reward, terminated, truncated, info):
        self.calls.append("step")

    def on_end(self, env, result):
        self.calls.append(f"end:{type(result.error).__name__ if result.error else None}")


# ------------------------------------------------------------------------------------ the loop
def test_observers_see_every_hook_in_order_and_the_episode_ends_in_the_goal(plain_env):
    log, poses = Log(), TrajectoryObserver()
    core = keys_to_actions(CORE_SEQUENCES["left"])
    result = rollout(plain_env, Keys(core), 0, {"scenario": SCENARIO}, [log, poses])
    n = len(core)  # the 17 keys of the real core sequence end in the goal at the step limit
    assert n == plain_env.config.max_steps
    assert result.error is None and result.info["success"] and result.truncated and result.steps == n
    assert log.calls == ["reset", *(["before", "act", "step"] * n), "end:None"]
    assert len(poses.poses) == n + 1 and poses.poses[-1] == list(plain_env.pose)


def test_a_policy_error_ends_the_episode_and_is_kept(plain_env):
    class Breaks(Keys):
        def act(self, obs):
            if self.i == 2:
                return [np.nan, 0, 0]
            return super().act(obs)

    log = Log()
    result = rollout(plain_env, Breaks([W, W, W]), 0, {"scenario": SCENARIO}, [log])
    assert isinstance(result.error, PolicyStepError) and "contains NaN or inf" in str(result.error)
    assert result.steps == 2
    assert result.error_text.startswith("PolicyStepError: policy returned an invalid action")
    assert log.calls[-2:] == ["before", "end:PolicyStepError"]  # no on_act / on_step for the bad action


def test_privileged_state_and_max_steps(plain_env):
    seen = []

    class Privileged(Keys):
        privileged = True

        def act(self, obs):
            seen.append(obs["state"]["steps"])
            return W

    actions = ActionObserver()
    result = rollout(plain_env, Privileged([]), 0, {"scenario": SCENARIO}, [actions], max_steps=3)
    assert seen == [0, 1, 2] and result.steps == 3 and not (result.terminated or result.truncated)
    assert [a.tolist() for a in actions.actions] == [W.tolist()] * 3


# ------------------------------------------------------------------------------------ latency wrapper
def _x_after_two_presses(env, latency):
    latency.reset(seed=0, options={"scenario": SCENARIO})
    latency.step(W)
    latency.step(W)
    return env.pose[0]


def test_fixed_latency_runs_the_previous_command_on(plain_env):
    none = _x_after_two_presses(plain_env, CommandLatency(plain_env, "none"))
    fixed = _x_after_two_presses(plain_env, CommandLatency(plain_env, "fixed", 200.0))
    speed = plain_env.config.robot.speed_m_s
    assert fixed - none == pytest.approx(speed * 0.2, abs=1e-6)  # 0.2 s more of the first W press


def test_measured_latency_is_the_time_since_the_last_observation(plain_env):
    ticks = iter([10.0, 10.2, 10.2, 10.4, 10.4])  # reset at 10.0; each step called 0.2 s after an obs

    measured = CommandLatency(plain_env, "measured", clock=lambda: next(ticks))
    x_measured = _x_after_two_presses(plain_env, measured)
    assert measured.last_delay_s == pytest.approx(0.2)
    x_fixed = _x_after_two_presses(plain_env, CommandLatency(plain_env, "fixed", 200.0))
    assert x_measured == pytest.approx(x_fixed, abs=1e-9)


@pytest.mark.parametrize("mode, delay, match", [
    ("fixd", 0.0, "latency_in_loop.mode='fixd' is invalid; valid: none, fixed, measured"),
    ("fixed", -1.0, "latency_in_loop.delay_ms=-1.0 is invalid"),
    ("fixed", float("nan"), "latency_in_loop.delay_ms=nan is invalid"),
])
def test_bad_latency_settings_name_the_value(plain_env, mode, delay, match):
    with pytest.raises(ValueError, match=match.replace("(", r"\(")):
        CommandLatency(plain_env, mode, delay)


# ------------------------------------------------------------------------------------ task rules
def _task():
    scenario = build_scenario(SCENARIO)
    task = NavTask(max_steps=3)
    task.reset(scenario)
    return task, scenario


def test_task_judges_success_collision_and_arena():
    task, sc = _task()
    goal = (sc.goal.x, sc.goal.y, 0.0)
    stop = task.judge(goal, [], moved=False, steps=1, prev_distance=0.5)
    assert stop.success and stop.terminated and not stop.truncated and stop.failure_reason is None
    assert stop.reward == pytest.approx(0.5 + 1.0)
    box = task.judge(goal, [SimpleNamespace(category="obstacle")], moved=True, steps=1, prev_distance=0.0)
    assert box.collision and box.terminated and not box.success and box.failure_reason == "collision"
    assert box.reward == pytest.approx(-1.0)
    wall = task.judge((0.0, 0.0, 0.0), [SimpleNamespace(category="wall")], moved=True, steps=1,
                      prev_distance=task.distance_to_goal((0.0, 0.0, 0.0)))
    assert wall.collision and wall.failure_reason == "left_arena"
    moving = task.judge(goal, [], moved=True, steps=1, prev_distance=0.0)
    assert not (moving.terminated or moving.truncated or moving.success)  # passing through the goal
    last = task.judge(goal, [], moved=True, steps=3, prev_distance=0.0)
    assert last.success and last.truncated and not last.terminated  # ending in the goal at the step limit


def test_task_names_why_a_timed_out_episode_failed():
    task, sc = _task()
    ob = sc.primary_obstacle
    short = task.judge((0.0, sc.start[1], 0.0), [], moved=True, steps=3, prev_distance=0.0)
    assert short.failure_reason == "stopped_short" and short.truncated
    task.track_motion((ob.x - 0.2, ob.y - 0.6, 0.0), (ob.x + 0.2, ob.y - 0.6, 0.0))  # passes on the right
    assert task.went_side == "right" and sc.side == "left"
    assert task.judge((0.0, 0.0, 0.0), [], True, 3, 0.0).failure_reason == "wrong_side"
    task.reset(sc)
    task.track_motion((ob.x - 0.2, ob.y + 0.6, 0.0), (ob.x + 0.2, ob.y + 0.6, 0.0))
    far = (sc.goal.x + sc.goal.radius + 0.5, sc.goal.y, 0.0)
    assert task.went_side == "left" and task.judge(far, [], True, 3, 0.0).failure_reason == "timeout"
