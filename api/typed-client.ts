import { type ClientResponse, hc } from 'hono/client';
import type { App } from './app';

/**
 * The typed client of ctloop's HTTP API: Hono's `hc` over the app's own type,
 * so every path, parameter, body and response shape comes from the route
 * schemas (the same zod schemas that validate requests and make
 * /openapi.json). A route or schema change that breaks a caller is a type
 * error in the caller. Used over the network (demo, benchmarks) and in
 * process through `app.request` (tests; no server started).
 *
 * Why `hc` and not types generated from /openapi.json: the routes are already
 * zod in TypeScript, so deriving the client from them needs no generator, no
 * generated file to keep in step and no build step.
 */

export type ApiClient = ReturnType<typeof hc<App>>;

/** Anything that answers a Request: a running server's URL, or the app itself (`app.request`). */
export type ApiTarget = string | { request(input: string, init?: RequestInit): Response | Promise<Response> };

/** A client calling as the holder of `token` (sent as `Authorization: Bearer`). */
export function apiClient(target: ApiTarget, token?: string): ApiClient {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (typeof target === 'string') return hc<App>(target, { headers });
  const app = target;
  return hc<App>('http://ctloop.local', {
    headers,
    fetch: (input: string | URL | Request, init?: RequestInit) =>
      Promise.resolve(app.request(String(input), init)),
  });
}

type AnyClientResponse = ClientResponse<unknown, number, 'json' | 'text' | string>;
/** The body type an endpoint declares for `status`. */
export type BodyOf<R, S extends number> =
  R extends ClientResponse<infer T, infer U, infer _F> ? (U extends S ? T : never) : never;

/** An answer whose status was not the expected one: says what came back instead. */
export class UnexpectedStatus extends Error {
  constructor(
    readonly expected: readonly number[],
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`expected HTTP ${expected.join(' or ')}, got ${status}: ${JSON.stringify(body).slice(0, 2000)}`);
  }
}

async function bodyOf(res: Response | AnyClientResponse): Promise<unknown> {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Awaits a call and returns its body typed for the expected status; any
 * other status throws UnexpectedStatus with the body it came with.
 *
 * @example const model = await expectBody(api.v1.models[':model'].$get({ param: { model: 'churn' } }), 200);
 */
export async function expectBody<R extends AnyClientResponse, S extends R['status']>(
  call: Promise<R>,
  ...statuses: [S, ...S[]]
): Promise<BodyOf<R, S>> {
  const res = await call;
  const body = await bodyOf(res);
  if (!(statuses as number[]).includes(res.status)) throw new UnexpectedStatus(statuses, res.status, body);
  return body as BodyOf<R, S>;
}

/** Every answer an endpoint declares: `status` narrows `body` to that status's shape. */
export type Answer<R> = R extends ClientResponse<infer T, infer U, infer _F> ? { status: U; body: T } : never;

/** Awaits a call and returns its status and body, typed as a union over the statuses it declares. */
export async function answer<R extends AnyClientResponse>(call: Promise<R>): Promise<Answer<R>> {
  const res = await call;
  return { status: res.status, body: await bodyOf(res) } as Answer<R>;
}
