import { type ApiClient, apiClient } from './typed-client';

/**
 * A small client for ctloop's HTTP API, used by the demo (over the network)
 * and by the tests (in-process through `app.request`, no server started).
 */
// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of documented shapes; callers assert on them
export interface ApiResponse<T = any> {
  readonly status: number;
  readonly body: T;
}

// biome-ignore lint/suspicious/noExplicitAny: as above
export type ApiCall = <T = any>(method: string, path: string, body?: unknown) => Promise<ApiResponse<T>>;

const init = (method: string, body: unknown, token: string | undefined): RequestInit => ({
  method,
  headers: {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  },
  body: body === undefined ? undefined : JSON.stringify(body),
});

async function read(res: Response): Promise<ApiResponse> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text so the caller can show it
  }
  return { status: res.status, body };
}

/**
 * Both ways of calling: `api.v1.models.$get()`, the typed client derived from
 * the routes (api/typed-client.ts), which new code uses; and the older
 * `api('GET', path)`, kept while the remaining tests move over to the first.
 */
export type Api = ApiCall & ApiClient;

/** One `Api` from a plain call and a typed client (both must reach the same API as the same caller). */
export function both(call: ApiCall, client: ApiClient): Api {
  return new Proxy(call, {
    get: (target, key) => (key === 'v1' ? client.v1 : Reflect.get(target, key)),
  }) as Api;
}

/** Calls as the holder of `token` (sent as `Authorization: Bearer`). */
export function httpApi(baseUrl: string, token?: string): Api {
  return both(
    async (method, path, body) => read(await fetch(new URL(path, baseUrl), init(method, body, token))),
    apiClient(baseUrl, token),
  );
}

export function inProcessApi(
  app: { request(path: string, init?: RequestInit): Response | Promise<Response> },
  token?: string,
): Api {
  return both(
    async (method, path, body) => read(await app.request(path, init(method, body, token))),
    apiClient(app, token),
  );
}
