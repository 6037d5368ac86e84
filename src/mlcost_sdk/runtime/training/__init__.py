"""Training runs: ``with training_run(...) as run: run.step(...)``.

``run.step()`` is the hot path: it only adds to counters and compares one integer. Everything
else (warm-up boundary, windows, budget projection) happens on a "slow path" that runs every
few hundred milliseconds, scheduled by step count from the measured step rate.

Rooms: ``run`` (TrainingRun: the hot path, start and end, listeners), ``windows`` (slow-path
scheduling, windows, rates, FLOPs between counts), ``budget`` (the budget check and the cost
projection), ``summary`` (RunSummary, throughput over the run), ``decorator`` (entry points).
"""

from .budget import BudgetAction, BudgetStatus, BudgetWarning
from .decorator import track_training, training_run
from .run import TrainingRun, current_run, open_runs
from .summary import RunSummary

__all__ = [
    "BudgetAction",
    "BudgetStatus",
    "BudgetWarning",
    "RunSummary",
    "TrainingRun",
    "current_run",
    "open_runs",
    "track_training",
    "training_run",
]
