// `depends_on` must be acyclic: jobs run in dependency order.

/** An edge that closes a cycle: `job`'s depends_on[`index`], and the cycle it closes (`a -> b -> a`). */
export interface CycleEdge {
  job: string;
  index: number;
  cycle: string[];
}

/**
 * Every cycle of the graph `job -> [(index in depends_on, dependency)]`, each reported once at the
 * edge that closes it. Iterative DFS, so a long chain cannot overflow the stack.
 */
export function findCycles(graph: ReadonlyMap<string, ReadonlyArray<readonly [number, string]>>): CycleEdge[] {
  const found: CycleEdge[] = [];
  const state = new Map<string, 1 | 2>(); // 1 = on stack, 2 = done
  for (const start of graph.keys()) {
    if (state.has(start)) continue;
    const stack: Array<{ id: string; next: number }> = [{ id: start, next: 0 }];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (!top) break;
      const edge = (graph.get(top.id) ?? [])[top.next++];
      if (!edge) {
        state.set(top.id, 2);
        stack.pop();
        continue;
      }
      const [index, dep] = edge;
      const s = state.get(dep);
      if (s === 1) {
        const from = stack.findIndex((f) => f.id === dep);
        found.push({ job: top.id, index, cycle: [...stack.slice(from).map((f) => f.id), dep] });
      } else if (s === undefined) {
        state.set(dep, 1);
        stack.push({ id: dep, next: 0 });
      }
    }
  }
  return found;
}
