// `git push -o <option>`: options mlgit understands; unknown ones are ignored (other tools send their own).

export interface PushOptions {
  /** `ci.skip` (or `ci.skip=true`): validate the manifest, but start no runs for this push. */
  ciSkip: boolean;
}

export function parsePushOptions(options: readonly string[]): PushOptions {
  let ciSkip = false;
  for (const option of options) {
    const eq = option.indexOf('=');
    const name = (eq < 0 ? option : option.slice(0, eq)).trim();
    const value = eq < 0 ? 'true' : option.slice(eq + 1).trim().toLowerCase();
    if (name === 'ci.skip') ciSkip = value === 'true' || value === '';
  }
  return { ciSkip };
}
