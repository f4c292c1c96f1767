/**
 * Min/max bucket downsampling for charts: the series is cut into equal buckets of consecutive
 * points and each bucket keeps its lowest and highest point (in their original order), so peaks
 * and dips survive where plain sampling would drop them. The first and last points always stay.
 * At most `limit` points come out (limit >= 4); a series that fits is returned as it is.
 */
export function downsampleMinMax<T>(points: readonly T[], value: (point: T) => number, limit = 1500): T[] {
  if (points.length <= limit) return [...points];
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const inner = points.length - 2;
  const buckets = Math.max(1, Math.floor((limit - 2) / 2));
  const out: T[] = [first];
  for (let b = 0; b < buckets; b++) {
    const start = 1 + Math.floor((b * inner) / buckets);
    const end = 1 + Math.floor(((b + 1) * inner) / buckets);
    if (end <= start) continue;
    let min = start;
    let max = start;
    for (let i = start + 1; i < end; i++) {
      const v = value(points[i]!);
      if (v < value(points[min]!)) min = i;
      if (v > value(points[max]!)) max = i;
    }
    if (min === max) out.push(points[min]!);
    else out.push(points[Math.min(min, max)]!, points[Math.max(min, max)]!);
  }
  out.push(last);
  return out;
}
