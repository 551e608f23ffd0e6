"""The MCP surface of trace2skill: tools, resources and prompts over the library, on stdio or HTTP.

    from trace2skill.server import ServerConfig, create_server
    create_server(ServerConfig(model="anthropic:claude-sonnet-4-5")).run()

The server holds no business logic: every tool calls the workspace or the evolve engine.
"""

from trace2skill.server.app import INSTRUCTIONS, Trace2SkillServer, create_server
from trace2skill.server.config import ServerConfig, server_model

__all__ = ["INSTRUCTIONS", "ServerConfig", "Trace2SkillServer", "create_server", "server_model"]
