// The pages' LRU cache (server/web/render/lru.ts): bounded by keys and values, least recently used
// out first, JSON values handed out as copies.
import t from 'tap';
import { LruCache } from '../server/web/render/lru.ts';

/** How many of `keys` the cache still holds. */
const held = (cache: LruCache, keys: readonly string[]) => keys.filter((k) => cache.get(k) !== undefined).length;

t.test('least recently used out first; reading counts as use', async (t) => {
  const cache = new LruCache(25);
  cache.set('a', 'x'.repeat(9));
  cache.set('b', 'x'.repeat(9));
  t.ok(cache.get('a'), 'a read: now the most recent');
  cache.set('c', 'x'.repeat(9));
  t.same([cache.get('a') !== undefined, cache.get('b') !== undefined, cache.get('c') !== undefined], [true, false, true], 'b, the least recent, went');
  cache.set('big', 'x'.repeat(25));
  t.equal(cache.get('big'), undefined, 'an entry bigger than the whole cache is not kept');
  t.ok(cache.get('a'), 'and evicts nothing');
});

t.test('keys count: many empty answers under long keys stay within the bound', async (t) => {
  const cache = new LruCache(1000);
  const keys = Array.from({ length: 1000 }, (_, i) => `log\0${String(i).padStart(40, '0')}`);
  for (const key of keys) cache.set(key, '[]');
  t.ok(held(cache, keys) <= 1000 / (keys[0]!.length + 2), `${held(cache, keys)} of 1000 kept`);
  t.ok(held(cache, keys.slice(-5)) === 5, 'the newest are kept');
});

t.test('rememberJson: computed once, each caller gets its own copy', async (t) => {
  const cache = new LruCache(1000);
  let computed = 0;
  const compute = async () => (computed++, { names: ['main'] });
  const first = await cache.rememberJson('k', compute);
  first.names.push('changed');
  t.same(await cache.rememberJson('k', compute), { names: ['main'] });
  t.equal(computed, 1);
  t.equal(await cache.rememberJson('null', async () => null), null);
  t.equal(await cache.rememberJson('null', async () => 'not asked'), null, 'null is a value too');
});
