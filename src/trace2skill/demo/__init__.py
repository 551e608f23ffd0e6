"""`trace2skill demo`: the whole job end to end on embedded data, offline unless a model is configured.

    from trace2skill.demo import run_demo
    result = run_demo()                      # a new temporary home; simulated analysts without a key
    print(result.report.new_version, result.published)

The embedded starter skill and runs live in `trace2skill/demo/data/` (see `data.py`).
"""

from trace2skill.demo.data import SKILL_NAME, load_trajectories, skill_folder
from trace2skill.demo.runner import REAL_MODEL_BUDGET_USD, SIMULATED_AS, DemoResult, choose_model, run_demo
from trace2skill.demo.simulated import DemoFleet, marker_for

__all__ = [
    "REAL_MODEL_BUDGET_USD",
    "SIMULATED_AS",
    "SKILL_NAME",
    "DemoFleet",
    "DemoResult",
    "choose_model",
    "load_trajectories",
    "marker_for",
    "run_demo",
    "skill_folder",
]
