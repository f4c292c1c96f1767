// Serving end to end on the process runtime (bubblewrap sandbox): test/helpers/serving-scenario.ts.
import t from 'tap';
import { servingEndToEnd } from './helpers/serving-scenario.ts';

t.test('serving digits on the process runtime', async (t) => {
  await servingEndToEnd(t, { runtime: 'process' });
});
