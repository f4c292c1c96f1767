// Maps a YAML path (keys and indexes) back to an offset in the source text, so schema and
// semantic errors point at the exact line and column of the node they are about.
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node as YamlNode } from 'yaml';
import type { Segment } from './issues.ts';

/** Finds the YAML node at a path of keys and indexes, resolving aliases on the way. */
export class Locator {
  constructor(private readonly doc: Document) {}

  private resolve(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  /** Offset of the value at `segments` (or of its key when `target` is `key`); the deepest existing ancestor otherwise. */
  offset(segments: readonly Segment[], target: 'value' | 'key' = 'value'): number {
    return this.find(segments, target).offset;
  }

  /** The node itself (for scalars whose text we search) and its offset. */
  find(segments: readonly Segment[], target: 'value' | 'key' = 'value'): { node: YamlNode | null; offset: number } {
    let node: unknown = this.resolve(this.doc.contents);
    let offset = rangeStart(node) ?? 0;
    let keyOffset = offset;
    for (const seg of segments) {
      let next: unknown;
      let found = false;
      if (isMap(node)) {
        for (const pair of node.items) {
          if (!isPair(pair)) continue;
          const k: unknown = pair.key;
          const keyValue = isScalar(k) ? k.value : k;
          if (String(keyValue) === String(seg)) {
            keyOffset = rangeStart(k) ?? offset;
            next = pair.value;
            found = true;
            break;
          }
        }
      } else if (isSeq(node) && typeof seg === 'number') {
        next = node.items[seg];
        found = next !== undefined;
        keyOffset = rangeStart(this.resolve(next)) ?? offset;
      }
      if (!found) return { node: null, offset };
      node = this.resolve(next);
      // A key without a value (`image:`) has no range of its own: point at the key.
      offset = rangeStart(node) ?? keyOffset;
    }
    if (target === 'key') return { node: null, offset: keyOffset };
    return { node: (node as YamlNode | null) ?? null, offset };
  }
}

export function rangeStart(node: unknown): number | undefined {
  if (node && typeof node === 'object' && 'range' in node) {
    const range = (node as { range?: [number, number, number] | null }).range;
    if (range) return range[0];
  }
  return undefined;
}

