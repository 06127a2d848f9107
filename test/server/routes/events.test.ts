// sendBounded: a turn's events leave together, and only a client that really falls behind
// is closed with 1013. Real websockets on loopback, a client that stops reading.
import t, { type Test } from 'tap';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { CLOSE_TOO_SLOW, MAX_BUFFERED_BYTES, sendBounded } from '../../../src/server/routes/events.js';

/** A server-side socket and its client, connected on loopback. */
async function pair(t: Test): Promise<{ server: WebSocket; client: WebSocket }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const [server] = await accepted;
  await once(client, 'open');
  t.teardown(() => {
    client.terminate();
    server.terminate();
    wss.close();
  });
  return { server, client };
}

const event = (seq: number) => ({ seq, padding: 'x'.repeat(1000) });
const turn = () => new Promise((resolve) => setImmediate(resolve));

t.test('a burst larger than the backlog limit, sent in one turn, reaches a reading client whole', async (t) => {
  const { server, client } = await pair(t);
  const count = Math.ceil((3 * MAX_BUFFERED_BYTES) / 1000);
  const received: number[] = [];
  const all = new Promise<void>((resolve) =>
    client.on('message', (data) => {
      received.push((JSON.parse(data.toString()) as { seq: number }).seq);
      if (received.length === count) resolve();
    }),
  );
  let sent = 0;
  for (let seq = 1; seq <= count; seq += 1) if (sendBounded(server, event(seq), () => 'behind')) sent += 1;
  t.equal(sent, count, 'every event of the turn is sent: what waits in the cork is not a backlog');
  await all;
  t.same(received, Array.from({ length: count }, (_, index) => index + 1), 'in order, each once');
  t.equal(server.readyState, WebSocket.OPEN);
});

t.test('a client that stops reading is closed with 1013 once its backlog passes the limit', async (t) => {
  const { server, client } = await pair(t);
  (client as unknown as { _socket: Socket })._socket.pause();
  const closes: number[] = [];
  const close = server.close.bind(server);
  server.close = (code?: number, reason?: string | Buffer) => {
    if (code !== undefined) closes.push(code);
    close(code, reason);
  };
  let seq = 0;
  // Turn after turn, as epochs come: the kernel's buffers fill first, then the socket's own.
  while (server.readyState === WebSocket.OPEN && seq < 200_000) {
    for (let index = 0; index < 100; index += 1) sendBounded(server, event((seq += 1)), () => 'too far behind');
    await turn();
  }
  t.same(closes, [CLOSE_TOO_SLOW], `closed with 1013 once, after ${seq} events`);
  t.ok(seq * 1000 > MAX_BUFFERED_BYTES, 'not before the limit was passed');
  t.equal(sendBounded(server, event(seq + 1), () => 'too far behind'), false, 'nothing more is sent');
});
