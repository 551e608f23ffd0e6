// Resolves manifest.json's mcp_config the way an MCP bundle host does, with the MCPB reference library.
// node resolve_mcp_config.mjs <path of @anthropic-ai/mcpb's dist/index.js> <manifest.json> <extension dir>
//      <user's home> <user_config values as JSON>   ->   the resolved mcp_config as JSON on stdout
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [library, manifestPath, extensionPath, home, userConfig] = process.argv.slice(2);
const { getMcpConfigForManifest } = await import(pathToFileURL(library).href);
const config = await getMcpConfigForManifest({
  manifest: JSON.parse(readFileSync(manifestPath, "utf8")),
  extensionPath,
  systemDirs: { HOME: home, DESKTOP: `${home}/Desktop`, DOCUMENTS: `${home}/Documents`, DOWNLOADS: `${home}/Downloads` },
  userConfig: JSON.parse(userConfig),
  pathSeparator: "/",
});
process.stdout.write(JSON.stringify(config));
