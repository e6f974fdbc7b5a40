/**
 * The model versions of one model through raw ARM (api-version 2024-04-01: tag filters,
 * jobName): in a workspace, or in a registry, where a new version is a long-running operation
 * that the registry's temporary data reference (startPendingUpload) precedes, as the Azure ML
 * SDK does before every registry create (it also refuses a version that exists already).
 */
import { armOperation, type LroOptions } from '../common/lro';
import type { RegistryArm } from '../common/registry';
import type { WorkspaceArm } from '../common/workspace-arm';
import type { ModelRegistry, ModelVersion, ModelVersionProps } from './register';

export class ArmModelRegistry implements ModelRegistry {
  constructor(
    protected readonly scope: WorkspaceArm,
    protected readonly name: string,
  ) {}

  protected path(tail = ''): string {
    return `models/${encodeURIComponent(this.name)}${tail}`;
  }

  versions(filter: { tags?: Record<string, string>; top?: number } = {}): Promise<ModelVersion[]> {
    const q = new URLSearchParams({ $orderBy: 'createdtime desc' });
    if (filter.top) q.set('$top', String(filter.top));
    if (filter.tags && Object.keys(filter.tags).length)
      q.set(
        'tags',
        Object.entries(filter.tags)
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      );
    return this.scope.list<ModelVersion>(`${this.path('/versions')}?${q}`, filter.top ? 1 : 50);
  }

  get(version: string): Promise<ModelVersion | undefined> {
    return this.scope.find<ModelVersion>(this.path(`/versions/${encodeURIComponent(version)}`));
  }

  put(version: string, body: { properties: ModelVersionProps }): Promise<ModelVersion> {
    return this.scope.put<ModelVersion>(this.path(`/versions/${encodeURIComponent(version)}`), body);
  }

  async nextVersion(): Promise<number> {
    const c = await this.scope.find<{ properties?: { latestVersion?: string | null; nextVersion?: string | null } }>(this.path());
    if (!c) return 1;
    const next = Number(c.properties?.nextVersion);
    const latest = Number(c.properties?.latestVersion);
    return Math.max(Number.isInteger(next) && next > 0 ? next : 1, Number.isInteger(latest) && latest >= 0 ? latest + 1 : 1);
  }
}

/** A registry's versions: a new one is reserved (startPendingUpload), then created as a long-running copy. */
export class RegistryModelVersions extends ArmModelRegistry {
  constructor(
    scope: RegistryArm,
    name: string,
    private readonly lro: () => LroOptions,
  ) {
    super(scope, name);
  }

  override async put(version: string, body: { properties: ModelVersionProps }): Promise<ModelVersion> {
    const path = this.path(`/versions/${encodeURIComponent(version)}`);
    // A 400 "already exists" here is a version taken by someone else: registerVersion moves on.
    await this.scope.post(`${path}/startPendingUpload`, { pendingUploadType: 'TemporaryBlobReference' });
    const out = await armOperation(this.scope.arm, 'PUT', `${this.scope.base}/${path}`, this.scope.apiVersion, body, this.lro());
    if (!out.longRunning) return JSON.parse(out.initial.text) as ModelVersion;
    // Final state via the version itself.
    return this.scope.get<ModelVersion>(path);
  }
}
