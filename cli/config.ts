import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where the CLI finds the API and who it calls as. */
export interface CliConfig {
  readonly apiUrl: string;
  readonly token: string | null;
}

/** A failure the CLI reports as one line and an exit code, never a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** The API's HTTP status, when the API answered. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** `$CTLOOP_CONFIG`, else `~/.config/ctloop/config.json` (`{ "apiUrl": …, "token": … }`). */
export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return (
    env.CTLOOP_CONFIG ??
    path.join(env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'ctloop', 'config.json')
  );
}

/**
 * Flags first (`--api-url`, `--token`), then the environment
 * (`CTLOOP_API_URL`, `CTLOOP_TOKEN`), then the config file, then
 * `http://localhost:3000` with no token.
 */
export function resolveConfig(
  flags: { apiUrl?: string; token?: string },
  env: NodeJS.ProcessEnv = process.env,
): CliConfig {
  const file = readConfigFile(configFilePath(env));
  const apiUrl = flags.apiUrl ?? env.CTLOOP_API_URL ?? file.apiUrl ?? 'http://localhost:3000';
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new CliError(`the API URL is not a URL: ${JSON.stringify(apiUrl)}`, 2);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`the API URL must be http or https: ${apiUrl}`, 2);
  return { apiUrl: apiUrl.replace(/\/+$/, ''), token: flags.token ?? env.CTLOOP_TOKEN ?? file.token ?? null };
}

function readConfigFile(file: string): { apiUrl?: string; token?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${file} is not JSON (expected {"apiUrl": "...", "token": "..."})`, 2);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new CliError(`${file} must hold an object: {"apiUrl": "...", "token": "..."}`, 2);
  const { apiUrl, token } = parsed as Record<string, unknown>;
  for (const [key, value] of Object.entries({ apiUrl, token }))
    if (value !== undefined && typeof value !== 'string')
      throw new CliError(`${file}: ${key} must be a string`, 2);
  return { apiUrl: apiUrl as string | undefined, token: token as string | undefined };
}
