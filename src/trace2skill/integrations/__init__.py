"""Glue between agent clients and trace2skill: storing imported runs, Claude Code hooks and settings.

Kept apart from `importers` (which only turn files into models) because this is where imported
trajectories meet the store and where other programs' configuration files are edited. The package
imports nothing at load time, so the hook entry point (`python -m trace2skill.integrations.hook`)
starts in milliseconds.
"""
