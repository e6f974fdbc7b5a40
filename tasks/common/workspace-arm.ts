/**
 * Raw ARM calls under one Azure ML workspace (`.../workspaces/<ws>/<path>`), at one api-version:
 * read, read-or-undefined on 404, list with nextLink paging, write. For resources and query
 * options the SDK of our registry (api-version 2022-10-01) lacks, such as model version tag
 * filters or the jobName of a model version.
 */
import type { ArmClient, WorkspaceRef } from './arm';
import { workspaceId } from './arm';

/** The api-version of the workspace-scoped calls (it has startPendingUpload and jobName on models). */
export const ML_API_VERSION = '2024-04-01';

export interface ArmResource<P = Record<string, unknown>> {
  id: string;
  name: string;
  type?: string;
  properties?: P;
  systemData?: { createdAt?: string; createdBy?: string; lastModifiedAt?: string };
}

export const isNotFound = (e: unknown): boolean => (e as { statusCode?: number }).statusCode === 404;

export class WorkspaceArm {
  constructor(
    readonly arm: ArmClient,
    readonly ref: WorkspaceRef,
    readonly apiVersion = ML_API_VERSION,
  ) {}

  /** ARM id of the workspace. */
  get base(): string {
    return workspaceId(this.ref);
  }

  get<T = ArmResource>(path: string): Promise<T> {
    return this.arm.get<T>(`${this.base}/${path}`, this.apiVersion);
  }

  /** The resource, or undefined when ARM answers 404. */
  async find<T = ArmResource>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /**
   * Every item of a collection (`path` may carry a query, e.g. `models/x/versions?$top=1`),
   * following nextLink up to `maxPages`; a collection that does not exist is empty.
   */
  async list<T = ArmResource>(path: string, maxPages = 50): Promise<T[]> {
    const out: T[] = [];
    let page: { value?: T[]; nextLink?: string | null } | undefined = await this.find<{ value?: T[]; nextLink?: string | null }>(path);
    for (let i = 0; page; i++) {
      out.push(...(page.value ?? []));
      if (!page.nextLink || i + 1 >= maxPages) break;
      // nextLink is absolute; its api-version is replaced by ours.
      const next = new URL(page.nextLink);
      page = await this.arm.get<{ value?: T[]; nextLink?: string | null }>(next.pathname + next.search, this.apiVersion);
    }
    return out;
  }

  put<T = ArmResource>(path: string, body: unknown): Promise<T> {
    return this.arm.request<T>('PUT', `${this.base}/${path}`, this.apiVersion, body);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.arm.request<T>('POST', `${this.base}/${path}`, this.apiVersion, body);
  }
}
