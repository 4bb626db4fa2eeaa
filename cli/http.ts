import { type CliConfig, CliError } from './config';

/** The API's answer to one call, or a CliError that says in one line what went wrong. */
export async function call<T = unknown>(
  config: CliConfig,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = {};
  if (config.token) headers.authorization = `Bearer ${config.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${config.apiUrl}/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new CliError(`cannot reach the ctloop API at ${config.apiUrl} (${why}); set CTLOOP_API_URL`);
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (res.ok) return parsed as T;
  const error = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
  const what = error?.message ?? (typeof parsed === 'string' ? parsed.slice(0, 200) : res.statusText);
  const hint =
    res.status === 401 ? ' (set CTLOOP_TOKEN, or run `ctloop token` to see where the token comes from)' : '';
  throw new CliError(
    `${method} ${path}: ${res.status} ${error?.code ?? ''} ${what}${hint}`.replace(/\s+/g, ' '),
    1,
    res.status,
  );
}
