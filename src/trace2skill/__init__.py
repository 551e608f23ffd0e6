"""trace2skill: evolve Agent Skills from your agents' own trajectories (Trace2Skill, arXiv 2603.25158)."""

__version__ = "0.1.0"
