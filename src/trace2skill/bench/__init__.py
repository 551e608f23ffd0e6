"""Measuring skills: task suites, the agent runner, statistics, the gate and the benchmark loop."""
