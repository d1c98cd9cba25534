"""`RebalanceAction` and `ActionPlan`: what a risk manager asks for after an exit, before anything runs.

A plan is a list of steps. A step is one action or a group of actions that may run at the same time; each step
waits for every action of the step before it (so a plan is sequential unless it says otherwise). An action may
instead name the actions it waits for (`after`, by `key`), which expresses any dependency graph:

    ActionPlan.of(
        close,                       # step 1
        [transfer_a, transfer_b],    # step 2: both at once, once the close succeeded
        reopen,                      # step 3: once both transfers succeeded
    )

If an action fails or is cancelled, the actions waiting for it are cancelled (with the reason); actions that do not
depend on it run on. Journalling a plan gives every action a deterministic id, `<plan id>.<seq>`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from fundarb_core.model.records import PlannedAction

__all__ = ["ActionPlan", "Priority", "RebalanceAction", "as_plan"]


class Priority(enum.IntEnum):
    """Urgency of an action: higher runs first, across every position's plans."""

    LOW = -10
    NORMAL = 0
    URGENT = 50
    EMERGENCY = 100


def _tuple(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise TypeError(f"`after` takes a sequence of keys, found the string {value!r}")
    return tuple(value)


def _details(value: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict copy of an action's details (typed, so `mypy --strict` accepts a plan built from a mapping)."""
    return dict(value)


@attrs.frozen
class RebalanceAction:
    """One thing to do: `action_type` names the registered handler; `details` are validated by its details class.

    `key` names the action within its plan (default: its position, "0", "1", ...); `after` lists the keys it waits
    for, overriding the step order.
    """

    action_type: str = attrs.field()
    position_id: str | None = None
    reason: str = ""
    details: Mapping[str, Any] = attrs.field(factory=dict, converter=_details, hash=False)
    urgency: int = attrs.field(default=Priority.NORMAL, converter=int)
    key: str | None = None
    after: tuple[str, ...] | None = attrs.field(default=None, converter=_tuple)

    @action_type.validator
    def _type(self, _: attrs.Attribute[str], value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError(f"action_type must be a non-empty string, found {value!r}")


Step = RebalanceAction | Sequence[RebalanceAction]


@attrs.frozen
class ActionPlan:
    """Steps of actions; see the module docstring."""

    steps: tuple[tuple[RebalanceAction, ...], ...] = ()

    @classmethod
    def of(cls, *steps: Step) -> ActionPlan:
        """A plan from steps: each an action, or a list of actions that run together."""
        out = []
        for step in steps:
            group = (step,) if isinstance(step, RebalanceAction) else tuple(step)
            if not group:
                raise ValueError("a plan step must hold at least one action")
            for action in group:
                if not isinstance(action, RebalanceAction):
                    raise TypeError(f"a plan step holds RebalanceActions, found {type(action).__name__}")
            out.append(group)
        return cls(tuple(out))

    @property
    def actions(self) -> list[RebalanceAction]:
        return [a for step in self.steps for a in step]

    def __len__(self) -> int:
        return len(self.actions)

    def __bool__(self) -> bool:
        return bool(self.steps)

    def planned(self, plan_id: str) -> list[PlannedAction]:
        """The plan as the journal stores it: ids `<plan_id>.<seq>`, dependencies resolved to ids."""
        seq_of: dict[str, int] = {}  # plan key → position in the plan
        flat: list[tuple[int, RebalanceAction]] = []
        for index, step in enumerate(self.steps):
            for action in step:
                key = action.key if action.key is not None else str(len(flat))
                if key in seq_of:
                    raise ValueError(f"plan key {key!r} is used twice")
                seq_of[key] = len(flat)
                flat.append((index, action))
        out: list[PlannedAction] = []
        previous_step: list[str] = []
        current_step: list[str] = []
        current_index = 0
        for seq, (index, action) in enumerate(flat):
            if index != current_index:
                previous_step, current_step, current_index = current_step, [], index
            if action.after is not None:
                unknown = [k for k in action.after if k not in seq_of]
                if unknown:
                    raise ValueError(f"action {action.action_type!r} waits for unknown key(s) {', '.join(unknown)}")
                waits = [seq_of[k] for k in action.after]
                if seq in waits:
                    raise ValueError(f"action {action.action_type!r} waits for itself")
                if any(w > seq for w in waits):
                    raise ValueError(f"action {action.action_type!r} waits for an action later in the plan")
                depends = tuple(f"{plan_id}.{w}" for w in waits)
            else:
                depends = tuple(previous_step)
            own_id = f"{plan_id}.{seq}"
            current_step.append(own_id)
            out.append(
                PlannedAction(
                    action_type=action.action_type,
                    details=action.details,
                    position_id=action.position_id,
                    depends_on=depends,
                    urgency=action.urgency,
                    id=own_id,
                    reason=action.reason or None,
                )
            )
        return out


def as_plan(value: ActionPlan | Sequence[RebalanceAction] | RebalanceAction | None) -> ActionPlan:
    """Accept what `generate_actions` returns: a plan, a list of actions (run one after another), or nothing."""
    if value is None:
        return ActionPlan()
    if isinstance(value, ActionPlan):
        return value
    if isinstance(value, RebalanceAction):
        return ActionPlan.of(value)
    if not isinstance(value, Sequence) or isinstance(value, Mapping | str | bytes):
        raise TypeError(f"a plan is an ActionPlan or a list of RebalanceActions, found {type(value).__name__}")
    return ActionPlan.of(*value)
