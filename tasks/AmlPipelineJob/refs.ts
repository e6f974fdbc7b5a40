/**
 * The translation context: the job file, the repository root, the references met so far (each
 * once: the same compute, code folder or data folder in several steps is one entry), and the
 * component files already loaded.
 */
import type { NamedRef, Origin } from '../common/asset-refs';
import type { SourcesRoot } from '../common/files';
import type { LoadedYaml } from '../common/yaml';
import { Slot, type AssetKind, type Ref, type SlotForm } from './plan';

function keyOf(r: Ref): string | undefined {
  switch (r.kind) {
    case 'compute':
    case 'datastore':
      return `${r.kind}:${r.name}`;
    case 'asset':
      return `asset:${r.assetType}:${r.ref.name}:${r.ref.version ?? `@${r.ref.label}`}`;
    case 'verbatim':
      return `verbatim:${r.value}`;
    case 'code':
      return `code:${r.path}`;
    case 'environment':
      return r.env.build
        ? `env-build:${r.env.build.path}:${r.env.build.dockerfile ?? ''}:${r.env.description ?? ''}`
        : `env:${r.env.hash}:${r.env.description ?? ''}`;
    case 'data':
      return `data:${r.path}:${r.dataType}:${r.datastore}`;
    case 'component':
      return undefined;
  }
}

export class RefTable {
  readonly refs: Ref[] = [];
  private readonly index = new Map<string, number>();

  /** A slot for `ref`, adding it unless an equal one is there already. */
  slot(ref: Ref, form: SlotForm = 'id'): Slot {
    const key = keyOf(ref);
    let i = key === undefined ? undefined : this.index.get(key);
    if (i === undefined) {
      i = this.refs.push(ref) - 1;
      if (key !== undefined) this.index.set(key, i);
    }
    return new Slot(i, form);
  }

  compute(name: string, origin: Origin): Slot {
    return this.slot({ kind: 'compute', name, origin });
  }

  asset(assetType: AssetKind, ref: NamedRef, form: SlotForm = 'id'): Slot {
    return ref.curated ? this.slot({ kind: 'verbatim', value: ref.curated }, 'id') : this.slot({ kind: 'asset', assetType, ref }, form);
  }
}

/** What every translation step needs. */
export interface Ctx {
  root: SourcesRoot;
  refs: RefTable;
  /** Component files loaded so far, by resolved path: a file several steps use is read once. */
  components: Map<string, unknown>;
  /** Files on the way to this one (component files that contain pipelines), to refuse a cycle. */
  trail: string[];
}

export const originOf = (doc: LoadedYaml, at: ReadonlyArray<string | number>): Origin => ({
  file: doc.file,
  path: at.map(String).join('.'),
});
