import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createV2Server, V2ServerError } from '../serving/v2-server';

/**
 * The V2 client keeps connections alive between predictions. A server may
 * close an idle kept-alive connection just as the client reuses it; the
 * prediction must then go through on a fresh connection, not fail. These
 * servers speak just enough HTTP/1.1 to be exact about which connection
 * carried which request.
 */
describe('the V2 server client on kept-alive connections', () => {
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
  });
  const listen = async (onConnection: (socket: net.Socket) => void) => {
    const srv = net.createServer((socket) => {
      sockets.add(socket);
      onConnection(socket);
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`;
  };

  /** A server that answers the first `answerPerConnection` requests of each connection and drops the connection at the next. */
  async function server(answerPerConnection: number) {
    const seen = { connections: 0, requests: 0, dropped: 0 };
    const url = await listen((socket) => {
      seen.connections += 1;
      let answered = 0;
      let buffer = '';
      socket.on('data', (chunk) => {
        buffer += chunk.toString('utf8');
        for (;;) {
          const head = buffer.indexOf('\r\n\r\n');
          if (head < 0) return;
          const length = Number(/content-length: (\d+)/i.exec(buffer.slice(0, head))?.[1] ?? 0);
          if (buffer.length < head + 4 + length) return;
          buffer = buffer.slice(head + 4 + length);
          seen.requests += 1;
          if (answered >= answerPerConnection) {
            seen.dropped += 1;
            socket.destroy();
            return;
          }
          answered += 1;
          const body = JSON.stringify({ outputs: [{ name: 'probability', data: [0.25] }] });
          socket.write(
            `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: keep-alive\r\n\r\n${body}`,
          );
        }
      });
      socket.on('error', () => {});
    });
    return { url, seen };
  }

  it('reuses one connection for consecutive predictions', async () => {
    const { url, seen } = await server(100);
    const v2 = createV2Server({ url, repository: '/nonexistent' });
    for (let i = 0; i < 5; i++) expect(await v2.infer('m', 1, [[1, 2]])).toEqual([0.25]);
    expect(seen).toEqual({ connections: 1, requests: 5, dropped: 0 });
  });

  it('sends a prediction again on a fresh connection when the server dropped the kept-alive one under it', async () => {
    const { url, seen } = await server(1);
    const v2 = createV2Server({ url, repository: '/nonexistent' });
    expect(await v2.infer('m', 1, [[1, 2]])).toEqual([0.25]);
    // The second goes out on the kept-alive connection, which the server drops: it is sent once more.
    expect(await v2.infer('m', 1, [[1, 2]])).toEqual([0.25]);
    expect(seen).toEqual({ connections: 2, requests: 3, dropped: 1 });
  });

  it('does not send again what a fresh connection lost: the server is unreachable, and says why', async () => {
    const { url, seen } = await server(0);
    const v2 = createV2Server({ url, repository: '/nonexistent' });
    const failed = await v2.infer('m', 1, [[1, 2]]).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(V2ServerError);
    expect((failed as Error).message).toMatch(
      /^model server http:\/\/127\.0\.0\.1:\d+ unreachable \(ECONNRESET\)$/,
    );
    expect(seen).toEqual({ connections: 1, requests: 1, dropped: 1 });
  });

  it('gives up on a server that does not answer within its timeout', async () => {
    const url = await listen((socket) => socket.on('error', () => {}));
    const v2 = createV2Server({ url, repository: '/nonexistent', timeoutMs: 200 });
    const began = performance.now();
    const failed = await v2.infer('m', 1, [[1, 2]]).catch((e: unknown) => e);
    expect((failed as Error).message).toMatch(/unreachable \(TimeoutError\)$/);
    expect(performance.now() - began).toBeLessThan(2_000);
  });
});
