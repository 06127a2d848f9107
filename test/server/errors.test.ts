import t from 'tap';
import { readFileSync } from 'node:fs';
import { API_ERRORS } from '../../src/server/errors.js';

t.test("the README's table of errors lists exactly the API's codes, with their statuses", async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const rows = [...readme.matchAll(/^\| (\d{3}) \| `([A-Z_]+)` \|/gm)].map(([, status, code]) => [code, Number(status)]);
  t.same(Object.fromEntries(rows), Object.fromEntries(Object.entries(API_ERRORS).map(([code, [status]]) => [code, status])));
  t.equal(rows.length, Object.keys(API_ERRORS).length, 'each code once');
});
