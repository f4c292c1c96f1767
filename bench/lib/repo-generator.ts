import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { runChecked } from './run.ts';

/**
 * Builds a synthetic repository with history for the clone benchmark, through `git fast-import`
 * (orders of magnitude faster than one `git commit` per revision).
 *
 * Content model: files are lists of 8 KiB blocks, each 6 KiB of random bytes (incompressible,
 * like weights or datasets) plus 2 KiB of text (compressible, like logs). Commits replace or append
 * a few blocks of a few files, so consecutive versions of a file share most of their bytes and the
 * final pack is mostly deltas, like real history, while its size stays predictable.
 */
export interface GeneratedRepo {
  readonly dir: string;
  readonly commits: number;
  readonly tags: number;
  readonly packBytes: number;
}

const RANDOM_BYTES_PER_BLOCK = 6 * 1024;
const TEXT_BYTES_PER_BLOCK = 2 * 1024;
// What a block costs in the final pack: the random part plus the text after zlib (~4:1).
const PACKED_BYTES_PER_BLOCK = RANDOM_BYTES_PER_BLOCK + TEXT_BYTES_PER_BLOCK / 4;
const BLOCKS_PER_FILE = 64; // 512 KiB files: big enough to matter, small enough to delta quickly
const DIRECTORIES = 16;
const COMMITS = 240;
const TAG_EVERY = 50;
// Share of the packed size that is the first snapshot; the rest is spread over the history.
const INITIAL_SHARE = 0.55;
// Bump when the content model changes so stale caches are rebuilt rather than reused.
const FORMAT_VERSION = 1;
const MARKER = 'bench-generated.json';

const WORDS = [
  'epoch', 'loss', 'accuracy', 'checkpoint', 'gradient', 'batch', 'tensor', 'learning-rate',
  'validation', 'shard', 'optimizer', 'dropout', 'embedding', 'token', 'warmup', 'scheduler',
];

/** Returns the cached repository for this size, building it first if needed. */
export async function ensureGeneratedRepo(
  cacheDir: string,
  sizeMb: number,
  env: NodeJS.ProcessEnv,
  onBuild: (dir: string) => void = () => undefined,
): Promise<GeneratedRepo> {
  const dir = path.join(cacheDir, `generated-${sizeMb}mb-v${FORMAT_VERSION}.git`);
  const cached = await readMarker(dir);
  if (cached) return cached;
  onBuild(dir);

  // Build next to the final place and rename, so an interrupted build is never mistaken for a cache.
  const building = `${dir}.building-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await mkdir(cacheDir, { recursive: true });
  await runChecked('git', ['init', '-q', '--bare', '--initial-branch=main', building], { env });
  const { commits, tags } = await fastImport(building, sizeMb, env);
  // fast-import deltas each blob only against the blob written just before it, which is rarely
  // the previous version of the same file; a full repack (-F: recompute deltas and recompress)
  // finds the real deltas. fast-import therefore stores uncompressed: zlib there is wasted time.
  await runChecked('git', ['repack', '-a', '-d', '-F', '-q'], { cwd: building, env });
  const repo: GeneratedRepo = { dir, commits, tags, packBytes: await packBytes(building) };
  await writeFile(path.join(building, MARKER), JSON.stringify(repo, null, 2));
  await rm(dir, { recursive: true, force: true });
  await rename(building, dir);
  return repo;
}

async function readMarker(dir: string): Promise<GeneratedRepo | undefined> {
  try {
    const stored = JSON.parse(await readFile(path.join(dir, MARKER), 'utf8')) as GeneratedRepo;
    // The checkout may have moved since the cache was built: trust the path we found it at.
    return { ...stored, dir };
  } catch {
    return undefined;
  }
}

/** Total size of the packs of a repository: what a full clone has to transfer. */
export async function packBytes(gitDir: string): Promise<number> {
  const packDir = path.join(gitDir, 'objects', 'pack');
  let total = 0;
  for (const name of await readdir(packDir)) {
    if (name.endsWith('.pack')) total += (await stat(path.join(packDir, name))).size;
  }
  return total;
}

interface Plan {
  readonly initialFiles: number;
  readonly blocksPerCommit: number;
}

function plan(sizeMb: number): Plan {
  const totalBlocks = (sizeMb * 1024 * 1024) / PACKED_BYTES_PER_BLOCK;
  return {
    initialFiles: Math.max(4, Math.round((totalBlocks * INITIAL_SHARE) / BLOCKS_PER_FILE)),
    blocksPerCommit: Math.max(2, Math.round((totalBlocks * (1 - INITIAL_SHARE)) / COMMITS)),
  };
}

/** The working tree being generated: path -> blocks. Only changed files are re-sent each commit. */
class Tree {
  readonly files = new Map<string, Buffer[]>();
  private readonly dirty = new Set<string>();
  private nextFile = 0;

  addFile(blocks: number, revision: number): void {
    const name = `data/shard-${String(this.nextFile % DIRECTORIES).padStart(2, '0')}/part-${String(this.nextFile).padStart(5, '0')}.bin`;
    this.nextFile += 1;
    this.files.set(name, Array.from({ length: blocks }, (_, i) => makeBlock(name, i, revision)));
    this.dirty.add(name);
  }

  /** Rewrites `count` blocks spread over a few files: mostly in place, sometimes appended. */
  mutate(count: number, revision: number): void {
    const names = [...this.files.keys()];
    const touched = Math.min(names.length, 1 + randomInt(4));
    for (let f = 0; f < touched; f += 1) {
      const name = names[randomInt(names.length)] as string;
      const blocks = this.files.get(name) as Buffer[];
      const share = Math.ceil(count / touched);
      for (let b = 0; b < share; b += 1) {
        const index = randomInt(4) === 0 ? blocks.length : randomInt(blocks.length);
        blocks[index] = makeBlock(name, index, revision);
      }
      this.dirty.add(name);
    }
  }

  takeDirty(): Array<[string, Buffer]> {
    const changed = [...this.dirty].map((name): [string, Buffer] => [name, Buffer.concat(this.files.get(name) as Buffer[])]);
    this.dirty.clear();
    return changed;
  }
}

function makeBlock(file: string, index: number, revision: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  while (length < TEXT_BYTES_PER_BLOCK) {
    const words = Array.from({ length: 6 }, () => WORDS[randomInt(WORDS.length)]).join(' ');
    const line = `${file} block ${index} rev ${revision} step ${randomInt(100000)}: ${words}\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.concat([randomBytes(RANDOM_BYTES_PER_BLOCK), Buffer.from(lines.join('').slice(0, TEXT_BYTES_PER_BLOCK))]);
}

/** Streams the whole history into `git fast-import`. */
async function fastImport(gitDir: string, sizeMb: number, env: NodeJS.ProcessEnv): Promise<{ commits: number; tags: number }> {
  const child = spawn('git', ['-c', 'core.compression=0', 'fast-import', '--quiet', '--done'], { cwd: gitDir, env, stdio: ['pipe', 'inherit', 'inherit'] });
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  const out = new FastImportWriter(child.stdin);
  const { initialFiles, blocksPerCommit } = plan(sizeMb);
  const tree = new Tree();
  const changelog: string[] = [];
  let tags = 0;

  for (let revision = 1; revision <= COMMITS; revision += 1) {
    if (revision === 1) {
      for (let i = 0; i < initialFiles; i += 1) tree.addFile(BLOCKS_PER_FILE, revision);
    } else if (revision % 25 === 0) {
      tree.addFile(Math.max(1, Math.min(BLOCKS_PER_FILE, blocksPerCommit)), revision);
    } else {
      tree.mutate(blocksPerCommit, revision);
    }
    changelog.push(`- r${revision}: retrain with ${WORDS[revision % WORDS.length]} tweak, seed ${randomInt(1_000_000)}\n`);
    const files: Array<[string, Buffer]> = [
      ...tree.takeDirty(),
      ['CHANGELOG.md', Buffer.from(changelog.join(''))],
      ['params.yaml', Buffer.from(`learning_rate: 0.${randomInt(1000)}\nbatch_size: ${8 << randomInt(6)}\nrevision: ${revision}\n`)],
    ];
    await out.commit(revision, `Revision ${revision}\n\nRetrain and update ${files.length} files.\n`, files);
    if (revision % TAG_EVERY === 0) {
      tags += 1;
      await out.tag(`v0.${tags}`, revision);
    }
  }
  await out.end();
  const [code, signal] = await exited;
  if (code !== 0) throw new Error(`git fast-import exited with ${signal ?? code}`);
  return { commits: COMMITS, tags };
}

/** Writes fast-import commands, honouring back-pressure so hundreds of MB never pile up in memory. */
class FastImportWriter {
  // A fixed clock makes the history identical in shape from run to run.
  private readonly epoch = 1_700_000_000;

  constructor(private readonly stream: Writable) {}

  async commit(mark: number, message: string, files: Array<[string, Buffer]>): Promise<void> {
    const when = this.epoch + mark * 3600;
    await this.write(`commit refs/heads/main\nmark :${mark}\ncommitter Bench <bench@example.com> ${when} +0000\n`);
    await this.data(Buffer.from(message));
    for (const [name, content] of files) {
      await this.write(`M 100644 inline ${name}\n`);
      await this.data(content);
    }
    await this.write('\n');
  }

  async tag(name: string, mark: number): Promise<void> {
    const when = this.epoch + mark * 3600 + 60;
    await this.write(`tag ${name}\nfrom :${mark}\ntagger Bench <bench@example.com> ${when} +0000\n`);
    await this.data(Buffer.from(`Release ${name}\n`));
  }

  async end(): Promise<void> {
    await this.write('done\n');
    this.stream.end();
  }

  private async data(content: Buffer): Promise<void> {
    await this.write(`data ${content.length}\n`);
    await this.write(content);
    await this.write('\n');
  }

  private async write(chunk: string | Buffer): Promise<void> {
    if (!this.stream.write(chunk)) await once(this.stream, 'drain');
  }
}
