import t from 'tap';
import { call, moonsJob, openEvents, startService } from '../fixtures/service.js';

t.test('a job goes from queued to succeeded, its events stream and replay, its model predicts', async (t) => {
  const service = await startService();
  t.teardown(() => service.stop('SIGKILL'));
  const submitted = await call(service, 'POST', '/v1/jobs', moonsJob(8));
  t.equal(submitted.status, 202);
  t.equal(submitted.body.status, 'queued');
  const id = submitted.body.id as string;

  const stream = openEvents(service, `/v1/jobs/${id}/events`);
  const closed = await stream.closed;
  t.equal(closed.code, 1000, 'closed normally after the last event');
  const { events } = stream;
  t.same(events.map((event) => event.seq), events.map((_, index) => index + 1), 'every seq from 1, in order');
  t.same(events.filter((event) => event.type === 'status').map((event) => (event as { status: string }).status), ['queued', 'running']);
  t.same(events.filter((event) => event.type === 'epoch').map((event) => (event as { epoch: number }).epoch), [1, 2, 3, 4, 5, 6, 7, 8]);
  const done = events.at(-1);
  t.match(done, { type: 'done', status: 'succeeded', result: { epochs: 8, train: { accuracy: Number }, dev: { accuracy: Number } } });

  const replay = openEvents(service, `/v1/jobs/${id}/events?since=4`);
  await replay.closed;
  t.same(replay.events, events.slice(4), 'since=4 sends exactly the events after seq 4');

  const job = await call(service, 'GET', `/v1/jobs/${id}`);
  t.match(job.body, { id, status: 'succeeded', epochsDone: 8, lastSeq: events.length });

  const model = await call(service, 'GET', `/v1/jobs/${id}/model`);
  t.equal(model.status, 200);
  t.equal(model.body.format, 'caviar-model');

  const predicted = await call(service, 'POST', `/v1/jobs/${id}/predict`, { inputs: [[0, 0.5], [1, -0.5]] });
  t.equal(predicted.status, 200);
  t.equal(predicted.body.outputs.length, 2);
  t.same(predicted.body.classes.length, 2);

  const metrics = await call(service, 'GET', `/v1/jobs/${id}/metrics`);
  t.equal(metrics.body.epochs.length, 8);
});
