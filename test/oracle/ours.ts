/**
 * Our side of the differential translation suite: a job YAML through the task's own code
 * (translateJob, then submit.ts's resolveRefs, then body.ts's jobBody) against an in-memory
 * workspace, giving the same record the SDK oracle (py/oracle_translate.py) gives: the job body
 * and every anonymous component, environment, code and LocalUpload the submission creates.
 *
 * The in-memory workspace knows every compute, datastore and registered asset (a named asset's
 * version is what was written, a label resolves to the version 'LATEST', as the oracle's does).
 */
import type { AgentIo } from '../../tasks/common/agent';
import type { CodeSnapshot } from '../../tasks/common/upload';
import { localUploadPath, objectHash } from '../../tasks/common/upload';
import { jobBody } from '../../tasks/AmlPipelineJob/body';
import { parseOverrides } from '../../tasks/AmlPipelineJob/overrides';
import type { JsonObject, SubmissionPlan } from '../../tasks/AmlPipelineJob/plan';
import { resolveRefs, type SubmitContext } from '../../tasks/AmlPipelineJob/submit';
import { translateJob } from '../../tasks/AmlPipelineJob/translate';

export interface Scope {
  subscription: string;
  resourceGroup: string;
  workspace: string;
}

export interface Recorded {
  components: Array<{ name: string; version: string; body: JsonObject }>;
  environments: Array<{ name: string; version: string; body: JsonObject }>;
  codes: Array<{ path: string; hash: string }>;
  uploads: Array<{ path: string; hash: string; datastore: string }>;
}

export interface OurResult extends Recorded {
  file: string;
  ok: boolean;
  error?: string;
  body?: { properties: JsonObject };
  /** The job's name (the body's default display name). */
  name?: string;
  plan?: SubmissionPlan;
}

export const workspaceId = (s: Scope): string =>
  `/subscriptions/${s.subscription}/resourceGroups/${s.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${s.workspace}`;

/** An in-memory workspace and storage that record what a submission writes. */
export function memoryContext(scope: Scope, root: string): { ctx: SubmitContext; recorded: Recorded } {
  const base = workspaceId(scope);
  const recorded: Recorded = { components: [], environments: [], codes: [], uploads: [] };
  const written = new Set<string>();
  const io = {
    info: () => undefined,
    warn: () => undefined,
    progress: () => undefined,
    secrets: { protect: (v?: string) => v },
    signal: undefined,
  } as unknown as AgentIo;
  const ws = {
    ref: { name: scope.workspace },
    base,
    async find<T>(p: string): Promise<T | undefined> {
      const path = p.split('?')[0]!;
      if (/\/versions$/.test(path)) return { value: [{ id: `${base}/${path}/LATEST` }] } as T;
      // Anonymous assets exist once written; registered ones are all there.
      if (
        /^(codes\/[^/]+|components\/azureml_anonymous|environments\/CliV2AnonymousEnvironment)\/versions\//.test(path) &&
        !written.has(path)
      )
        return undefined;
      return { id: `${base}/${decodeURIComponent(path)}` } as T;
    },
    async put(path: string, body: unknown): Promise<{ id: string }> {
      written.add(path);
      const m = /^(components|environments|codes)\/([^/]+)\/versions\/([^/]+)$/.exec(path);
      const b = body as JsonObject;
      if (m?.[1] === 'components') recorded.components.push({ name: m[2]!, version: m[3]!, body: b });
      if (m?.[1] === 'environments') recorded.environments.push({ name: m[2]!, version: m[3]!, body: b });
      return { id: `${base}/${path}` };
    },
    async post<T>(): Promise<T> {
      return {
        blobReferenceForConsumption: {
          blobUri: 'https://uploaded.example/code',
          credential: { sasUri: 'https://uploaded.example/code?sas' },
        },
      } as T;
    },
  };
  const ctx: SubmitContext = {
    io,
    ws,
    root,
    stats: { uploadedBytes: 0, reused: 0 },
    datastore: async (name) => ({ datastore: name, containerUrl: 'https://uploaded.example', credential: { kind: 'sas', token: 'x' } }),
    storage: {
      code: async (snap: CodeSnapshot) => {
        recorded.codes.push({ path: snap.root, hash: snap.hash });
        return `https://uploaded.example/code/${snap.hash}`;
      },
      data: async (snap: CodeSnapshot, target) => {
        recorded.uploads.push({ path: snap.root, hash: objectHash(snap), datastore: target.datastore });
        return { path: localUploadPath(snap), uploadedBytes: snap.bytes };
      },
    },
    computeNames: async () => [],
  };
  return { ctx, recorded };
}

/** The body this task would PUT for `file` (experiment name and lineage tags left to the caller to normalise). */
export async function ourTranslation(file: string, root: string, scope: Scope, overrides: string[] = []): Promise<OurResult> {
  const { ctx, recorded } = memoryContext(scope, root);
  try {
    const plan = translateJob(file, { root, overrides: parseOverrides(overrides) });
    const values = await resolveRefs(ctx, plan.refs);
    const name = plan.name ?? 'job';
    const properties = jobBody(plan.body, values, name, {});
    return { file, ok: true, body: { properties }, name, plan, ...recorded };
  } catch (e) {
    return { file, ok: false, error: (e as Error).message, ...recorded };
  }
}
