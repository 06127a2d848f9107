import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import t from 'tap';
import { isLoopback, loadConfig } from '../../src/server/config.js';
import { startService } from '../fixtures/service.js';

const EXPOSED = /listening beyond this machine with no CAVIAR_TOKEN/;

/** An IPv4 address of this machine that is not loopback, when it has one. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((address) => address !== undefined && address.family === 'IPv4' && !address.internal)?.address;

/** Resolves true when a TCP connection to host:port opens, false when it is refused. */
function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

t.test('with no settings the service listens on loopback only', async (t) => {
  t.equal(loadConfig({}).host, '127.0.0.1');
  for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1']) t.ok(isLoopback(host), `${host} is loopback`);
  for (const host of ['0.0.0.0', '::', '192.168.1.10', 'caviar.example']) t.notOk(isLoopback(host), `${host} is not`);

  // An empty CAVIAR_HOST is no setting: the default applies.
  const service = await startService({ env: { CAVIAR_HOST: '' } });
  t.teardown(() => service.stop('SIGKILL'));
  const { hostname, port } = new URL(service.url);
  t.equal(hostname, '127.0.0.1');
  t.notMatch(service.log(), EXPOSED, 'no warning on loopback');
  t.ok(await reachable('127.0.0.1', Number(port)), 'reachable on loopback');
  if (outsideAddress === undefined) t.comment('this machine has no other IPv4 address to try');
  else t.notOk(await reachable(outsideAddress, Number(port)), `refused on ${outsideAddress}`);
});

t.test('listening on every interface with no token logs a warning; with a token it does not', async (t) => {
  const open = await startService({ env: { CAVIAR_HOST: '0.0.0.0' } });
  t.teardown(() => open.stop('SIGKILL'));
  const warning = open
    .log()
    .split('\n')
    .filter((line) => EXPOSED.test(line))
    .map((line) => JSON.parse(line) as { level: number; host: string });
  t.match(warning, [{ level: 40, host: '0.0.0.0' }], 'one warning, at pino level warn');

  const guarded = await startService({ env: { CAVIAR_HOST: '0.0.0.0', CAVIAR_TOKEN: 'a-token' } });
  t.teardown(() => guarded.stop('SIGKILL'));
  t.notMatch(guarded.log(), EXPOSED);
});
