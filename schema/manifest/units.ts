// Durations (`1h30m`) and memory quantities (`512Mi`) as the manifest writes them.

/** Seconds in a duration string such as `1h30m`; null when it is not one. */
export function durationSeconds(d: string): number | null {
  const m = /^(?=[0-9])(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$/.exec(d);
  if (!m) return null;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

const QUANTITY_UNITS: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** Bytes in a memory quantity such as `512Mi`; null when it is not one. */
export function quantityBytes(q: string): number | null {
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)$/.exec(q);
  if (!m) return null;
  const unit = QUANTITY_UNITS[m[2] ?? ''];
  return unit === undefined ? null : Math.round(Number(m[1]) * unit);
}
