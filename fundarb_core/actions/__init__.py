"""Action plans: `RebalanceAction`s a risk manager returns after an exit, journalled and run by the `ActionRunner`.

See docs/plugins/writing-an-action-type.md for adding an action type, and `handler` for the handler contract.
"""

from __future__ import annotations

from fundarb_core.actions.handler import (
    ActionContext,
    ActionFailed,
    ActionHandler,
    AwaitApproval,
    BatchHandler,
    Outcome,
    RetryLater,
    RunningAction,
    Wait,
)
from fundarb_core.actions.plan import ActionPlan, Priority, RebalanceAction, as_plan
from fundarb_core.actions.ports import ClosePort, OpenPort, ReducePort, TransferPort
from fundarb_core.actions.runner import ActionRunner, RunReport, backoff, validate_details
from fundarb_core.actions.transfers import TransferHandler, TransferService, TransferStep

__all__ = [
    "ActionContext",
    "ActionFailed",
    "ActionHandler",
    "ActionPlan",
    "ActionRunner",
    "AwaitApproval",
    "BatchHandler",
    "ClosePort",
    "OpenPort",
    "Outcome",
    "Priority",
    "RebalanceAction",
    "ReducePort",
    "RetryLater",
    "RunReport",
    "RunningAction",
    "TransferHandler",
    "TransferPort",
    "TransferService",
    "TransferStep",
    "Wait",
    "as_plan",
    "backoff",
    "validate_details",
]
