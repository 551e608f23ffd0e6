"""Test doubles: stand-ins that only tests and benchmarks use, kept out of the installed package.

- `scripted`: `ScriptedProvider`, a provider answering from a list or a function, in-process.
- `llmserver`: `FakeLLMServer`, a loopback server speaking the Anthropic Messages and OpenAI Chat
  protocols (streaming, faults, prompt caching), for the real SDK clients; built on the demo's
  `trace2skill.demo.llmserver`. `python -m tests.doubles.llmserver` runs it as its own process.
- `simulated`: the synthetic skill and runs (`make_skill`, `make_trajectories`) and the simulated
  analyst fleet (`trace2skill.demo.fleet`) as in-process and server handlers.
- `redteam`: runs with planted instructions, and a model that obeys them.

Import them as `tests.doubles...` (pytest puts the repository root on sys.path: `pythonpath` in
pyproject.toml); a benchmark adds the root to sys.path itself.
"""
