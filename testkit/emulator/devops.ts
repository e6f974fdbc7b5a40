// Azure DevOps organisation at /{org}/: job access tokens, the pipeline OIDC token endpoint,
// location OPTIONS for azure-devops-node-api, Git/branch policy configurations and pipeline checks.
import { randomUUID } from 'node:crypto';
import { CommitGraph } from './commit-graph';
import type { EntraService } from './entra';
import { type JsonObject, type SigningKey, isJsonObject, newSigningKey, publicJwk, signJwt } from './jwt';
import { type EmuRequest, type EmuResponse, type EmulatorContext, header, jsonBody } from './types';

export const POLICY_TYPES = {
  minimumReviewers: { id: 'fa4e907d-c16b-4a4c-9dfa-4906e5d171dd', displayName: 'Minimum number of reviewers' },
  build: { id: '0609b952-1397-4640-95ec-e00a01b2c241', displayName: 'Build' },
  requiredReviewers: { id: 'fd2167ab-b0be-447a-8ec8-39368250530e', displayName: 'Required reviewers' },
} as const;
export type PolicyKind = keyof typeof POLICY_TYPES;

export const CHECK_TYPES = {
  approval: { id: '8c6f20a7-a545-4486-9777-f762fafe0d4d', name: 'Approval' },
  taskCheck: { id: 'fe1de3ee-a436-41b4-bb20-f6eb4cb879a7', name: 'Task Check' },
} as const;

/** The "Branch control" check is a Task Check running this task definition. */
export const BRANCH_CONTROL_DEFINITION = {
  id: '86b05a0c-73e6-4f7d-b3cf-e38f3b39a75b',
  name: 'evaluatebranchProtection',
  version: '0.0.1',
} as const;

export interface PolicyScope {
  repositoryId?: string | null;
  refName?: string | null;
  matchKind?: 'Exact' | 'Prefix' | 'DefaultBranch';
}

export interface AdoOrganization {
  id: string;
  name: string;
}

export interface AdoProject {
  id: string;
  name: string;
  orgId: string;
}

export interface AdoRepository {
  id: string;
  name: string;
  projectId: string;
  defaultBranch: string;
}

export interface AdoServiceConnection {
  id: string;
  name: string;
  type: string;
  projectId: string;
}

/** A reviewer's vote: 10 approved, 5 approved with suggestions, 0 none, -5 waiting, -10 rejected. */
export interface AdoReviewer {
  id: string;
  displayName: string;
  vote: number;
  /** A group or team: its vote is rolled up from a member's (who is listed too, with votedFor). */
  isContainer?: boolean;
  /** The reviewer declined to review. */
  hasDeclined?: boolean;
  /** Added by a "Required reviewers" policy. */
  isRequired?: boolean;
  /** Groups this member's vote was rolled up into. */
  votedFor?: Array<{ id: string; displayName: string }>;
}

/** How a completed pull request reached its target: a merge commit, a squash, or a rebase (fast-forward). */
export type MergeStrategy = 'noFastForward' | 'squash' | 'rebase';

/** A pull request with what the gate reads: its target, author, merge commit, source commits and votes. */
export interface AdoPullRequest {
  id: number;
  repositoryId: string;
  sourceRefName: string;
  targetRefName: string;
  status: 'active' | 'completed' | 'abandoned';
  createdBy: { id: string; displayName: string };
  /** The commit the completion produced on the target branch (merge, squash or rebase). */
  lastMergeCommit?: string;
  /** The target branch's head the pull request was merged onto. */
  lastMergeTargetCommit?: string;
  /** The source branch's commits (the `commit` query finds the pull request by these). */
  commits: string[];
  reviewers: AdoReviewer[];
  createdAt: string;
  closedAt?: string;
}

interface PolicyState {
  id: number;
  projectId: string;
  typeId: string;
  displayName: string;
  isEnabled: boolean;
  isBlocking: boolean;
  isDeleted: boolean;
  revision: number;
  settings: JsonObject;
  createdDate: string;
}

interface CheckState {
  id: number;
  projectId: string;
  type: { id: string; name: string };
  resource: { type: string; id: string; name: string };
  settings: JsonObject;
  timeout: number;
  createdOn: string;
}

interface JobTokenState {
  token: string;
  orgId: string;
  projectId: string;
  planId: string;
  jobId: string;
  hubName: string;
  identityId: string;
  identityName: string;
  canReadPolicies: boolean;
  canReadChecks: boolean;
}

interface ApiResourceLocation {
  id: string;
  area: string;
  resourceName: string;
  routeTemplate: string;
  resourceVersion: number;
  minVersion: string;
  maxVersion: string;
  releasedVersion: string;
}

/** Location entries azure-devops-node-api resolves through OPTIONS /{org}/_apis/{area}. */
const LOCATIONS: ApiResourceLocation[] = [
  {
    id: 'e81700f7-3be2-46de-8624-2eb35882fcaa',
    area: 'Location',
    resourceName: 'ResourceAreas',
    routeTemplate: '_apis/{resource}/{areaId}',
    resourceVersion: 1,
    minVersion: '3.2',
    maxVersion: '7.2',
    releasedVersion: '0.0',
  },
  {
    id: '2c420070-a0a2-49cc-9639-c9f271c5ff07',
    area: 'git',
    resourceName: 'policyConfigurations',
    routeTemplate: '{project}/_apis/git/policy/configurations',
    resourceVersion: 1,
    minVersion: '5.0',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: '2d874a60-a811-4f62-9c9f-963a6ea0a55b',
    area: 'git',
    resourceName: 'refs',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryId}/refs/{*filter}',
    resourceVersion: 2,
    minVersion: '1.0',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: '7cf2abb6-c964-4f7e-9872-f78c66e72e9c',
    area: 'git',
    resourceName: 'mergeBases',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryNameOrId}/commits/{commitId}/mergebases',
    resourceVersion: 1,
    minVersion: '5.1',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: '225f7195-f9c7-4d14-ab28-a83f7ff77e1f',
    area: 'git',
    resourceName: 'repositories',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryId}',
    resourceVersion: 2,
    minVersion: '1.0',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: 'dad91cbe-d183-45f8-9c6e-9c1164472121',
    area: 'policy',
    resourceName: 'configurations',
    routeTemplate: '{project}/_apis/policy/configurations/{configurationId}',
    resourceVersion: 1,
    minVersion: '2.0',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: '44096322-2d3d-466a-bb30-d1b7de69f61f',
    area: 'policy',
    resourceName: 'types',
    routeTemplate: '{project}/_apis/policy/types/{typeId}',
    resourceVersion: 1,
    minVersion: '2.0',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: '69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2',
    area: 'distributedtask',
    resourceName: 'oidctoken',
    routeTemplate: '{scopeIdentifier}/_apis/distributedtask/hubs/{hubName}/plans/{planId}/jobs/{jobId}/oidctoken',
    resourceVersion: 1,
    minVersion: '7.1',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: 'b3a6eebe-9cf0-49ea-b6cb-1a4c5f5007b0',
    area: 'git',
    resourceName: 'pullRequestQuery',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryId}/pullrequestquery',
    resourceVersion: 1,
    minVersion: '4.0',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: '4b6702c7-aa35-4b89-9c96-b9abf6d3e540',
    area: 'git',
    resourceName: 'pullRequestReviewers',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryId}/pullRequests/{pullRequestId}/reviewers/{reviewerId}',
    resourceVersion: 1,
    minVersion: '3.0',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: 'c2570c3b-5b3f-41b8-98bf-5407bfde8d58',
    area: 'git',
    resourceName: 'commits',
    routeTemplate: '{project}/_apis/git/repositories/{repositoryId}/commits/{commitId}',
    resourceVersion: 2,
    minVersion: '1.0',
    maxVersion: '7.2',
    releasedVersion: '7.1',
  },
  {
    id: '86c8381e-5aee-4cde-8ae4-25c0c7f5eaea',
    area: 'PipelinesChecks',
    resourceName: 'configurations',
    routeTemplate: '{project}/_apis/pipelines/checks/{resource}/{id}',
    resourceVersion: 1,
    minVersion: '5.1',
    maxVersion: '7.2',
    releasedVersion: '0.0',
  },
];

const RESOURCE_AREAS: Array<{ id: string; name: string }> = [
  { id: '4e080c62-fa21-4fbc-8fef-2a10a2b38049', name: 'git' },
  { id: 'fb13a388-40dd-4a04-b530-013a739c72ef', name: 'policy' },
  { id: 'a85b8835-c1a1-4aac-ae97-1c3d0ba72dbd', name: 'distributedtask' },
  { id: '4a933897-0488-45af-bd82-6fd3ad33f46a', name: 'PipelinesChecks' },
];

function vssError(
  status: number,
  typeKey: string,
  message: string,
  ns = 'Microsoft.VisualStudio.Services.WebApi',
  extraHeaders: Record<string, string> = {},
): EmuResponse {
  return {
    status,
    headers: extraHeaders,
    body: { $id: '1', innerException: null, message, typeName: `${ns}.${typeKey}, ${ns}`, typeKey, errorCode: 0, eventId: 3000 },
  };
}

function parseVersion(v: string): { num: number; preview: boolean; resourceVersion?: number } | undefined {
  const m = /^(\d+(?:\.\d+)?)(-preview(?:\.(\d+))?)?$/.exec(v.trim());
  if (!m) return undefined;
  return { num: Number(m[1]), preview: m[2] !== undefined, resourceVersion: m[3] ? Number(m[3]) : undefined };
}

/** Scope matching used by Azure DevOps to decide whether a policy applies to a repository/ref. */
export function scopeEntryApplies(
  e: PolicyScope,
  repositoryId: string | undefined,
  refName: string | undefined,
  defaultBranchOf: (repoId: string) => string | undefined,
): boolean {
  const entryRepo = e.repositoryId ? e.repositoryId.toLowerCase() : undefined;
  if (repositoryId === undefined) {
    if (entryRepo !== undefined) return false;
  } else if (entryRepo !== undefined && entryRepo !== repositoryId.toLowerCase()) {
    return false;
  }
  if (refName === undefined) return true;
  // A default-branch scope carries no refName: it applies to the repository's default branch only.
  if (e.matchKind === 'DefaultBranch') {
    const repo = repositoryId ?? entryRepo;
    return repo !== undefined && defaultBranchOf(repo) === refName;
  }
  if (!e.refName) return true;
  // Ref names compare case-sensitively here: git refs are case-sensitive and a gate must not over-match.
  return e.matchKind === 'Prefix' ? refName.startsWith(e.refName) : refName === e.refName;
}

export class DevOpsService {
  /** Lifetime of pipeline OIDC tokens (Azure DevOps issues them for about 10 minutes). */
  oidcTokenLifetimeSeconds = 600;
  readonly signingKey: SigningKey = newSigningKey();
  private readonly orgs = new Map<string, AdoOrganization>();
  private readonly projects = new Map<string, AdoProject>(); // key: projectId
  private readonly repositories = new Map<string, AdoRepository>();
  private readonly serviceConnections = new Map<string, AdoServiceConnection>();
  private readonly policies: PolicyState[] = [];
  private readonly checks: CheckState[] = [];
  private readonly jobTokens = new Map<string, JobTokenState>();
  private nextPolicyId = 1;
  private readonly pullRequests: AdoPullRequest[] = [];
  private nextCheckId = 1;

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly entra: EntraService,
  ) {}

  // ---- state API -------------------------------------------------------------------

  addOrganization(opts: { name: string; id?: string }): AdoOrganization {
    const org: AdoOrganization = { id: (opts.id ?? randomUUID()).toLowerCase(), name: opts.name };
    this.orgs.set(org.name.toLowerCase(), org);
    this.entra.registerIssuer(this.issuer(org.name), (kid) =>
      kid === undefined || kid === this.signingKey.kid ? this.signingKey.publicKey : undefined,
    );
    return org;
  }

  addProject(opts: { org?: string; name: string; id?: string }): AdoProject {
    const org = this.requireOrg(opts.org);
    const project: AdoProject = { id: (opts.id ?? randomUUID()).toLowerCase(), name: opts.name, orgId: org.id };
    this.projects.set(project.id, project);
    return project;
  }

  /** Each repository's commits and branches. */
  private readonly graphs = new Map<string, CommitGraph>();

  /** The repository's commit graph (created on first use). */
  graph(repositoryId: string): CommitGraph {
    const key = repositoryId.toLowerCase();
    let g = this.graphs.get(key);
    if (!g) this.graphs.set(key, (g = new CommitGraph()));
    return g;
  }

  /** Append commits (40-hex ids) to a branch; a new branch starts from `from` (a commit) when given. */
  pushCommits(repositoryId: string, ref: string, commits: string[], from?: string): string {
    return this.graph(repositoryId).push(ref, commits, from);
  }

  branchHead(repositoryId: string, ref: string): string | undefined {
    return this.graph(repositoryId).head(ref);
  }

  addRepository(opts: { org?: string; project: string; name: string; id?: string; defaultBranch?: string }): AdoRepository {
    const project = this.requireProject(opts.org, opts.project);
    const repo: AdoRepository = {
      id: (opts.id ?? randomUUID()).toLowerCase(),
      name: opts.name,
      projectId: project.id,
      defaultBranch: opts.defaultBranch ?? 'refs/heads/main',
    };
    this.repositories.set(repo.id, repo);
    return repo;
  }

  addServiceConnection(opts: { org?: string; project: string; name: string; id?: string; type?: string }): AdoServiceConnection {
    const project = this.requireProject(opts.org, opts.project);
    const sc: AdoServiceConnection = {
      id: (opts.id ?? randomUUID()).toLowerCase(),
      name: opts.name,
      type: opts.type ?? 'azurerm',
      projectId: project.id,
    };
    this.serviceConnections.set(sc.id, sc);
    return sc;
  }

  /**
   * A pull request. A completed one is merged the way Azure Repos merges: its source commits (when
   * new) are pushed on the source branch from the target's head, then `lastMergeCommit` lands on the
   * target as a merge commit (parents: the target's head and the source's tip), a squash (parent: the
   * target's head), or for a rebase the last source commit itself fast-forwards the target. A
   * `lastMergeCommit` that already exists stays where it is.
   */
  addPullRequest(opts: {
    repositoryId: string;
    id?: number;
    sourceRefName?: string;
    targetRefName?: string;
    status?: AdoPullRequest['status'];
    author: { id: string; displayName: string };
    lastMergeCommit?: string;
    commits?: string[];
    reviewers?: AdoReviewer[];
    mergeStrategy?: MergeStrategy;
  }): AdoPullRequest {
    const id = opts.id ?? 100 + this.pullRequests.length;
    const target = opts.targetRefName ?? 'refs/heads/main';
    const g = this.graph(opts.repositoryId);
    const now = new Date(this.ctx.clock.now()).toISOString();
    const pr: AdoPullRequest = {
      id,
      repositoryId: opts.repositoryId.toLowerCase(),
      sourceRefName: opts.sourceRefName ?? `refs/heads/topic/${id}`,
      targetRefName: target,
      status: opts.status ?? 'completed',
      createdBy: opts.author,
      commits: (opts.commits ?? []).map((c) => c.toLowerCase()),
      reviewers: opts.reviewers ?? [],
      createdAt: now,
    };
    const base = g.head(target);
    const fresh = pr.commits.filter((c) => !g.has(c));
    if (fresh.length) g.push(pr.sourceRefName, fresh, base);
    const merge = opts.mergeStrategy === 'rebase' ? pr.commits.at(-1) : opts.lastMergeCommit?.toLowerCase();
    if (merge) pr.lastMergeCommit = merge;
    if (pr.status === 'completed' && merge) {
      if (base) pr.lastMergeTargetCommit = base;
      pr.closedAt = now;
      if (!g.has(merge)) {
        const tip = pr.commits.at(-1);
        const strategy = opts.mergeStrategy ?? (tip ? 'noFastForward' : 'squash');
        g.add(merge, [...(base ? [base] : []), ...(strategy === 'noFastForward' && tip ? [tip] : [])]);
      }
      if (!base || g.isAncestor(base, merge)) g.setHead(target, merge);
    }
    this.pullRequests.push(pr);
    return pr;
  }

  /** Adds a branch policy; returns the configuration as the REST API shows it. */
  addPolicy(opts: {
    org?: string;
    project: string;
    type: PolicyKind;
    isEnabled?: boolean;
    isBlocking?: boolean;
    scope: PolicyScope[];
    settings?: JsonObject;
  }): JsonObject {
    const project = this.requireProject(opts.org, opts.project);
    const type = POLICY_TYPES[opts.type];
    const defaults: Record<PolicyKind, JsonObject> = {
      minimumReviewers: {
        minimumApproverCount: 1,
        creatorVoteCounts: false,
        allowDownvotes: false,
        resetOnSourcePush: false,
        requireVoteOnLastIteration: false,
        resetRejectionsOnSourcePush: false,
        blockLastPusherVote: false,
        requireVoteOnEachIteration: false,
      },
      build: { buildDefinitionId: 1, queueOnSourceUpdateOnly: true, manualQueueOnly: false, displayName: null, validDuration: 720 },
      requiredReviewers: { requiredReviewerIds: [], minimumApproverCount: 1, creatorVoteCounts: false, message: null },
    };
    const scope = opts.scope.map((s) => ({
      refName: s.refName ?? null,
      matchKind: s.matchKind ?? 'Exact',
      repositoryId: s.repositoryId ?? null,
    }));
    const state: PolicyState = {
      id: this.nextPolicyId++,
      projectId: project.id,
      typeId: type.id,
      displayName: type.displayName,
      isEnabled: opts.isEnabled ?? true,
      isBlocking: opts.isBlocking ?? true,
      isDeleted: false,
      revision: 1,
      settings: { ...defaults[opts.type], ...(opts.settings ?? {}), scope },
      createdDate: new Date(this.ctx.clock.now()).toISOString(),
    };
    this.policies.push(state);
    return this.policyBody(state);
  }

  updatePolicy(id: number, patch: { isEnabled?: boolean; isBlocking?: boolean; settings?: JsonObject }): JsonObject {
    const p = this.policies.find((x) => x.id === id);
    if (!p) throw new Error(`No policy ${id}`);
    if (patch.isEnabled !== undefined) p.isEnabled = patch.isEnabled;
    if (patch.isBlocking !== undefined) p.isBlocking = patch.isBlocking;
    if (patch.settings) p.settings = { ...p.settings, ...patch.settings };
    p.revision += 1;
    return this.policyBody(p);
  }

  /** Deleted policies disappear from the list APIs, as in Azure DevOps. */
  deletePolicy(id: number): void {
    const p = this.policies.find((x) => x.id === id);
    if (p) p.isDeleted = true;
  }

  /** Adds a check on a protected resource (a service connection is resourceType 'endpoint'). */
  addCheck(opts: {
    org?: string;
    project: string;
    resourceType: string;
    resourceId: string;
    resourceName?: string;
    type: 'branchControl' | 'approval';
    settings?: JsonObject;
    timeout?: number;
  }): JsonObject {
    const project = this.requireProject(opts.org, opts.project);
    const sc = this.serviceConnections.get(opts.resourceId.toLowerCase());
    const resource = { type: opts.resourceType, id: opts.resourceId, name: opts.resourceName ?? sc?.name ?? opts.resourceId };
    const branchControl = opts.type === 'branchControl';
    const s = opts.settings ?? {};
    const state: CheckState = {
      id: this.nextCheckId++,
      projectId: project.id,
      type: branchControl ? CHECK_TYPES.taskCheck : CHECK_TYPES.approval,
      resource,
      timeout: opts.timeout ?? (branchControl ? 1440 : 43200),
      createdOn: new Date(this.ctx.clock.now()).toISOString(),
      settings: branchControl
        ? {
            definitionRef: { ...BRANCH_CONTROL_DEFINITION },
            displayName: 'Branch control',
            inputs: {
              allowedBranches: String(s.allowedBranches ?? 'refs/heads/main'),
              ensureProtectionOfBranch: String(s.ensureProtectionOfBranch ?? true),
              allowUnknownStatusBranch: String(s.allowUnknownStatusBranch ?? false),
            },
            retryInterval: 5,
            linkedVariableGroup: null,
          }
        : {
            approvers: [],
            executionOrder: 'anyOrder',
            minRequiredApprovers: 0,
            instructions: '',
            blockedApprovers: [],
            requesterCannotBeApprover: false,
            ...s,
          },
    };
    this.checks.push(state);
    return this.checkBody(state, true);
  }

  /**
   * Issues a job access token (System.AccessToken). It is a secret.
   * canReadPolicies/canReadChecks false make those APIs answer 403, as when the build identity lacks the permission.
   */
  issueJobToken(opts: {
    org?: string;
    project: string;
    planId?: string;
    jobId?: string;
    hubName?: string;
    canReadPolicies?: boolean;
    canReadChecks?: boolean;
  }): string {
    const project = this.requireProject(opts.org, opts.project);
    const org = this.orgById(project.orgId);
    const identityId = randomUUID();
    const now = this.ctx.clock.nowSeconds();
    // Shaped like the real one (a JWT from app.vstoken), but the emulator validates it by lookup.
    const token = signJwt(
      {
        nameid: identityId,
        scp: 'app_token',
        aui: randomUUID(),
        sid: randomUUID(),
        iss: 'app.vstoken.visualstudio.com',
        aud: `app.vstoken.visualstudio.com|vso:${org.id}`,
        nbf: now,
        exp: now + 48 * 3600,
      },
      this.signingKey,
    );
    this.jobTokens.set(token, {
      token,
      orgId: org.id,
      projectId: project.id,
      planId: (opts.planId ?? randomUUID()).toLowerCase(),
      jobId: (opts.jobId ?? randomUUID()).toLowerCase(),
      hubName: opts.hubName ?? 'build',
      identityId,
      identityName: `${project.name} Build Service (${org.name})`,
      canReadPolicies: opts.canReadPolicies ?? true,
      canReadChecks: opts.canReadChecks ?? true,
    });
    this.ctx.addSecret(token);
    return token;
  }

  /** Plan/job identity of a job token (what the agent exposes as System.PlanId / System.JobId). */
  jobInfo(jobToken: string): { org: string; projectId: string; projectName: string; planId: string; jobId: string; hubName: string } {
    const t = this.jobTokens.get(jobToken);
    if (!t) throw new Error('Unknown job token');
    const project = this.projects.get(t.projectId) as AdoProject;
    return {
      org: this.orgById(t.orgId).name,
      projectId: t.projectId,
      projectName: project.name,
      planId: t.planId,
      jobId: t.jobId,
      hubName: t.hubName,
    };
  }

  /** System.OidcRequestUri for the job the token belongs to. */
  oidcRequestUri(jobToken: string): string {
    const t = this.jobTokens.get(jobToken);
    if (!t) throw new Error('Unknown job token');
    const org = this.orgById(t.orgId);
    return `${this.collectionUri(org.name)}${t.projectId}/_apis/distributedtask/hubs/${t.hubName}/plans/${t.planId}/jobs/${t.jobId}/oidctoken`;
  }

  /** System.CollectionUri (with trailing slash). */
  collectionUri(org: string): string {
    return `${this.ctx.url}/${this.requireOrg(org).name}/`;
  }

  /** The OIDC issuer of an organisation, as in federated credentials. */
  issuer(org: string): string {
    return `https://vstoken.dev.azure.com/${this.requireOrg(org).id}`;
  }

  /** Workload identity federation subject for a service connection. */
  subject(org: string, project: string, serviceConnectionName: string): string {
    return `sc://${org}/${project}/${serviceConnectionName}`;
  }

  /** OpenID metadata of the issuer (served under /_emulator/vstoken/{orgId}/). */
  issuerMetadata(orgId: string): JsonObject | undefined {
    const org = [...this.orgs.values()].find((o) => o.id === orgId.toLowerCase());
    if (!org) return undefined;
    return {
      issuer: this.issuer(org.name),
      jwks_uri: `${this.ctx.url}/_emulator/vstoken/${org.id}/.well-known/jwks`,
      subject_types_supported: ['public', 'pairwise'],
      response_types_supported: ['id_token'],
      claims_supported: ['sub', 'aud', 'exp', 'iat', 'iss', 'nbf'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['openid'],
    };
  }

  jwks(): { keys: JsonObject[] } {
    return { keys: [publicJwk(this.signingKey)] };
  }

  findProject(org: string | undefined, nameOrId: string): AdoProject | undefined {
    const o = org === undefined ? this.defaultOrg() : this.orgs.get(org.toLowerCase());
    if (!o) return undefined;
    const key = nameOrId.toLowerCase();
    return [...this.projects.values()].find((p) => p.orgId === o.id && (p.id === key || p.name.toLowerCase() === key));
  }

  // ---- helpers ---------------------------------------------------------------------

  private defaultOrg(): AdoOrganization | undefined {
    return this.orgs.values().next().value;
  }

  private requireOrg(name: string | undefined): AdoOrganization {
    const org = name === undefined ? this.defaultOrg() : this.orgs.get(name.toLowerCase());
    if (!org) throw new Error(`Unknown Azure DevOps organisation ${name ?? '(none added)'}`);
    return org;
  }

  private orgById(id: string): AdoOrganization {
    const org = [...this.orgs.values()].find((o) => o.id === id);
    if (!org) throw new Error(`Unknown organisation id ${id}`);
    return org;
  }

  private requireProject(org: string | undefined, nameOrId: string): AdoProject {
    const p = this.findProject(org, nameOrId);
    if (!p) throw new Error(`Unknown project ${nameOrId}; call ado.addProject first`);
    return p;
  }

  private policyBody(p: PolicyState): JsonObject {
    const project = this.projects.get(p.projectId) as AdoProject;
    const base = `${this.collectionUri(this.orgById(project.orgId).name)}${project.id}/_apis`;
    return {
      createdBy: {
        displayName: 'Project Collection Administrator',
        id: '00000000-0000-0000-0000-00000000c0de',
        uniqueName: 'admin@contoso.com',
      },
      createdDate: p.createdDate,
      isEnabled: p.isEnabled,
      isBlocking: p.isBlocking,
      isDeleted: p.isDeleted,
      settings: p.settings,
      isEnterpriseManaged: false,
      _links: { self: { href: `${base}/policy/configurations/${p.id}` }, policyType: { href: `${base}/policy/types/${p.typeId}` } },
      revision: p.revision,
      id: p.id,
      url: `${base}/policy/configurations/${p.id}`,
      type: { id: p.typeId, url: `${base}/policy/types/${p.typeId}`, displayName: p.displayName },
    };
  }

  private checkBody(c: CheckState, withSettings: boolean): JsonObject {
    const project = this.projects.get(c.projectId) as AdoProject;
    const url = `${this.collectionUri(this.orgById(project.orgId).name)}${project.id}/_apis/pipelines/checks/configurations/${c.id}`;
    const who = {
      displayName: 'Project Collection Administrator',
      id: '00000000-0000-0000-0000-00000000c0de',
      uniqueName: 'admin@contoso.com',
      descriptor: 'aad.ZW11bGF0b3I',
    };
    const body: JsonObject = {
      createdBy: who,
      createdOn: c.createdOn,
      modifiedBy: who,
      modifiedOn: c.createdOn,
      timeout: c.timeout,
      _links: { self: { href: url } },
      id: c.id,
      version: 1,
      type: c.type,
      url,
      resource: c.resource,
    };
    return withSettings ? { settings: c.settings, ...body } : body;
  }

  private policyScopes(p: PolicyState): PolicyScope[] {
    const scope = p.settings.scope;
    if (!Array.isArray(scope) || scope.length === 0) return [{ repositoryId: null, refName: null }];
    return scope.filter(isJsonObject).map((s) => ({
      repositoryId: typeof s.repositoryId === 'string' ? s.repositoryId : null,
      refName: typeof s.refName === 'string' ? s.refName : null,
      matchKind: s.matchKind === 'Prefix' || s.matchKind === 'DefaultBranch' ? s.matchKind : 'Exact',
    }));
  }

  // ---- HTTP --------------------------------------------------------------------------

  async handle(req: EmuRequest): Promise<EmuResponse> {
    const [orgName, second, ...rest] = req.segments;
    const org = orgName ? this.orgs.get(orgName.toLowerCase()) : undefined;
    if (!org)
      return vssError(
        404,
        'HostNotFoundException',
        `The organization '${orgName ?? ''}' could not be found.`,
        'Microsoft.VisualStudio.Services.WebApi',
      );
    if (second === undefined) return vssError(404, 'NotFound', 'The resource cannot be found.');

    if (second.toLowerCase() === '_apis') return this.orgLevel(req, org, rest);
    if (rest[0]?.toLowerCase() !== '_apis') return vssError(404, 'NotFound', 'The resource cannot be found.');
    const project = this.findProject(org.name, second);
    const route = rest.slice(1).map((s) => s.toLowerCase());
    const path = route.join('/');

    // Authenticate first: Azure DevOps does not reveal projects to anonymous callers.
    const auth = this.authenticate(req, org);
    if ('response' in auth) return auth.response;
    const job = auth.job;
    const principal = { kind: 'jobToken' as const, id: job.identityId };
    if (!project || job.projectId !== project.id) {
      return {
        ...vssError(
          404,
          'ProjectDoesNotExistWithNameException',
          `TF200016: The following project does not exist: ${second}. Verify that the name of the project is correct and that the project exists on the specified Azure DevOps Server.`,
          'Microsoft.TeamFoundation.Core.WebApi',
        ),
        principal,
      };
    }

    let res: EmuResponse;
    if (
      route[0] === 'distributedtask' &&
      route[1] === 'hubs' &&
      route[3] === 'plans' &&
      route[5] === 'jobs' &&
      route[7] === 'oidctoken' &&
      route.length === 8
    ) {
      res = this.versioned(req, '69a319f4-28c1-4bfd-93e6-ea0ff5c6f1a2', () =>
        req.method === 'POST'
          ? this.oidcToken(req, org, project)
          : vssError(405, 'MethodNotAllowed', 'The requested resource does not support http method.'),
      );
    } else if (path === 'git/policy/configurations' && req.method === 'GET') {
      res = this.versioned(req, '2c420070-a0a2-49cc-9639-c9f271c5ff07', () =>
        job.canReadPolicies ? this.gitPolicyConfigurations(req, project) : this.policyAccessDenied(job, project),
      );
    } else if (route[0] === 'policy' && route[1] === 'configurations' && route.length <= 3 && req.method === 'GET') {
      res = this.versioned(req, 'dad91cbe-d183-45f8-9c6e-9c1164472121', () =>
        job.canReadPolicies ? this.policyConfigurations(req, project, rest[3]) : this.policyAccessDenied(job, project),
      );
    } else if (path === 'pipelines/checks/configurations' && req.method === 'GET') {
      res = this.versioned(req, '86c8381e-5aee-4cde-8ae4-25c0c7f5eaea', () =>
        job.canReadChecks
          ? this.checkConfigurations(req, project)
          : vssError(
              403,
              'AccessCheckException',
              `Access Denied: ${job.identityName} needs the following permission(s) on the resource ${project.name} to perform this action: View checks`,
              'Microsoft.VisualStudio.Services.Security',
            ),
      );
    } else if (route[0] === 'git' && route[1] === 'repositories' && route[3] === 'refs' && req.method === 'GET') {
      res = this.versioned(req, '2d874a60-a811-4f62-9c9f-963a6ea0a55b', () => this.refsRoute(req, project, rest[3]!));
    } else if (
      route[0] === 'git' &&
      route[1] === 'repositories' &&
      route[3] === 'commits' &&
      route[5] === 'mergebases' &&
      req.method === 'GET'
    ) {
      res = this.versioned(req, '7cf2abb6-c964-4f7e-9872-f78c66e72e9c', () => this.mergeBasesRoute(req, project, rest[3]!, rest[5]!));
    } else if (
      route[0] === 'git' &&
      route[1] === 'repositories' &&
      route[3] === 'pullrequestquery' &&
      route.length === 4 &&
      req.method === 'POST'
    ) {
      res = this.versioned(req, 'b3a6eebe-9cf0-49ea-b6cb-1a4c5f5007b0', () => this.pullRequestQuery(req, project, rest[3]!));
    } else if (
      route[0] === 'git' &&
      route[1] === 'repositories' &&
      route[3] === 'pullrequests' &&
      route[5] === 'reviewers' &&
      route.length === 6 &&
      req.method === 'GET'
    ) {
      res = this.versioned(req, '4b6702c7-aa35-4b89-9c96-b9abf6d3e540', () => this.reviewersRoute(req, project, rest[3]!, rest[5]!));
    } else if (route[0] === 'git' && route[1] === 'repositories' && route[3] === 'commits' && route.length === 5 && req.method === 'GET') {
      res = this.versioned(req, 'c2570c3b-5b3f-41b8-98bf-5407bfde8d58', () => this.commitRoute(req, project, rest[3]!, rest[5]!));
    } else if (route[0] === 'git' && route[1] === 'repositories' && route.length <= 3 && req.method === 'GET') {
      res = this.versioned(req, '225f7195-f9c7-4d14-ab28-a83f7ff77e1f', () => this.repositoriesRoute(project, rest[3]));
    } else {
      res = vssError(404, 'NotFound', `The emulated Azure DevOps has no API ${req.method} ${req.url.pathname}.`);
    }
    return { ...res, principal };
  }

  private authenticate(req: EmuRequest, org: AdoOrganization): { job: JobTokenState } | { response: EmuResponse } {
    const auth = header(req, 'authorization')?.trim() ?? '';
    let token: string | undefined;
    const bearer = /^Bearer\s+(.+)$/i.exec(auth);
    const basic = /^Basic\s+(.+)$/i.exec(auth);
    if (bearer) token = bearer[1].trim();
    else if (basic) {
      const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
      token = decoded.slice(decoded.indexOf(':') + 1);
    }
    const challenge = {
      'WWW-Authenticate': 'Bearer authorization_uri=https://login.microsoftonline.com/common',
      'X-TFS-ProcessId': randomUUID(),
    };
    if (!token) {
      return {
        response: vssError(
          401,
          'UnauthorizedRequestException',
          'TF400813: Resource not available for anonymous access. Client authentication required.',
          'Microsoft.TeamFoundation.Framework.Server',
          challenge,
        ),
      };
    }
    const job = this.jobTokens.get(token);
    if (!job || job.orgId !== org.id) {
      return {
        response: vssError(
          401,
          'UnauthorizedRequestException',
          "TF400813: The user '' is not authorized to access this resource.",
          'Microsoft.TeamFoundation.Framework.Server',
          challenge,
        ),
      };
    }
    return { job };
  }

  /** Applies Azure DevOps api-version negotiation rules for a resource location. */
  private versioned(req: EmuRequest, locationId: string, run: () => EmuResponse): EmuResponse {
    const loc = LOCATIONS.find((l) => l.id === locationId) as ApiResourceLocation;
    const fromQuery = req.url.searchParams.get('api-version');
    const fromAccept = /api-version=([^;,\s]+)/i.exec(header(req, 'accept') ?? '')?.[1];
    const requested = fromQuery ?? fromAccept;
    if (!requested) {
      if (req.method !== 'GET') {
        return vssError(
          400,
          'VssVersionNotSpecifiedException',
          `No api-version was supplied for the "${req.method}" request. The version must be supplied either as part of the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter (e.g. '?api-version=1.0').`,
        );
      }
      return run();
    }
    const v = parseVersion(requested);
    if (!v) return vssError(400, 'VssInvalidApiVersionException', `The api-version '${requested}' is not valid.`);
    if (v.num > Number(loc.maxVersion)) {
      return vssError(
        400,
        'VssVersionOutOfRangeException',
        `The requested REST API version of ${v.num.toFixed(1)} is out of range for this server. The latest REST API version this server supports is ${loc.maxVersion}.`,
      );
    }
    if (!v.preview && v.num > Number(loc.releasedVersion)) {
      return vssError(
        400,
        'VssInvalidPreviewVersionException',
        `The requested version "${requested}" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: "${requested}-preview"`,
      );
    }
    return run();
  }

  private orgLevel(req: EmuRequest, org: AdoOrganization, rest: string[]): EmuResponse {
    const area = rest[0];
    if (req.method === 'OPTIONS') {
      // Location discovery is what azure-devops-node-api calls before any typed API.
      const value = area === undefined ? LOCATIONS : LOCATIONS.filter((l) => l.area.toLowerCase() === area.toLowerCase());
      return { status: 200, body: { count: value.length, value } };
    }
    if (req.method === 'GET' && area?.toLowerCase() === 'resourceareas') {
      const locationUrl = this.collectionUri(org.name);
      const areas = RESOURCE_AREAS.map((a) => ({ id: a.id, name: a.name, locationUrl }));
      const filtered = rest[1] ? areas.filter((a) => a.id === rest[1].toLowerCase()) : areas;
      if (rest[1])
        return filtered[0]
          ? { status: 200, body: filtered[0] }
          : vssError(404, 'ResourceAreaNotFoundException', `Resource area ${rest[1]} not found.`);
      return { status: 200, body: { count: filtered.length, value: filtered } };
    }
    return vssError(404, 'NotFound', `The emulated Azure DevOps has no API ${req.method} ${req.url.pathname}.`);
  }

  private oidcToken(req: EmuRequest, org: AdoOrganization, project: AdoProject): EmuResponse {
    const scId = req.url.searchParams.get('serviceConnectionId');
    if (!scId) {
      return vssError(400, 'ArgumentNullException', 'Value cannot be null.\r\nParameter name: serviceConnectionId', 'System');
    }
    const sc = this.serviceConnections.get(scId.toLowerCase());
    if (!sc || sc.projectId !== project.id) {
      return vssError(
        404,
        'ServiceEndpointNotFoundException',
        `Service connection with id ${scId} could not be found. It may have been deleted or you may not have access to it.`,
        'Microsoft.TeamFoundation.DistributedTask.WebApi',
      );
    }
    const now = this.ctx.clock.nowSeconds();
    const token = signJwt(
      {
        jti: randomUUID(),
        sub: this.subject(org.name, project.name, sc.name),
        aud: 'api://AzureADTokenExchange',
        iss: this.issuer(org.name),
        nbf: now,
        exp: now + this.oidcTokenLifetimeSeconds,
        iat: now,
      },
      this.signingKey,
      { x5t: this.signingKey.kid },
    );
    this.ctx.addSecret(token);
    this.ctx.trackToken(token);
    return { status: 200, body: { oidcToken: token } };
  }

  private policyAccessDenied(job: JobTokenState, project: AdoProject): EmuResponse {
    return vssError(
      403,
      'AccessCheckException',
      `Access Denied: ${job.identityName} needs the following permission(s) on the resource ${project.name} to perform this action: View policies`,
      'Microsoft.VisualStudio.Services.Security',
    );
  }

  private page(req: EmuRequest, items: JsonObject[]): EmuResponse {
    const topParam = req.url.searchParams.get('$top');
    const top = Math.min(50000, Math.max(0, topParam ? Number(topParam) : 100));
    const startId = Number(req.url.searchParams.get('continuationToken') ?? '1');
    const fromStart = items.filter((i) => Number(i.id) >= startId);
    const pageItems = fromStart.slice(0, top);
    const headers: Record<string, string> = {};
    if (fromStart.length > pageItems.length) headers['x-ms-continuationtoken'] = String(fromStart[pageItems.length].id);
    return { status: 200, headers, body: { count: pageItems.length, value: pageItems } };
  }

  private gitPolicyConfigurations(req: EmuRequest, project: AdoProject): EmuResponse {
    const q = req.url.searchParams;
    const repositoryId = q.get('repositoryId') ?? undefined;
    const refName = q.get('refName') ?? undefined;
    const policyType = q.get('policyType') ?? undefined;
    const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    if (repositoryId !== undefined && !guid.test(repositoryId)) {
      return vssError(
        400,
        'GitArgumentException',
        `The value '${repositoryId}' is not a valid repository ID.`,
        'Microsoft.TeamFoundation.SourceControl.WebServer',
      );
    }
    if (policyType !== undefined && !guid.test(policyType)) {
      return vssError(
        400,
        'GitArgumentException',
        `The value '${policyType}' is not a valid policy type ID.`,
        'Microsoft.TeamFoundation.SourceControl.WebServer',
      );
    }
    const defaultBranchOf = (id: string): string | undefined => this.repositories.get(id.toLowerCase())?.defaultBranch;
    const items = this.policies
      .filter((p) => p.projectId === project.id && !p.isDeleted)
      .filter((p) => policyType === undefined || p.typeId === policyType.toLowerCase())
      .filter((p) => this.policyScopes(p).some((s) => scopeEntryApplies(s, repositoryId, refName, defaultBranchOf)))
      .sort((a, b) => a.id - b.id)
      .map((p) => this.policyBody(p));
    return this.page(req, items);
  }

  private policyConfigurations(req: EmuRequest, project: AdoProject, idSegment: string | undefined): EmuResponse {
    const live = this.policies.filter((p) => p.projectId === project.id && !p.isDeleted).sort((a, b) => a.id - b.id);
    if (idSegment !== undefined) {
      const p = live.find((x) => String(x.id) === idSegment);
      if (!p)
        return vssError(
          404,
          'PolicyConfigurationNotFoundException',
          `TF401075: The policy configuration with ID ${idSegment} does not exist.`,
          'Microsoft.TeamFoundation.Policy.WebApi.Exceptions',
        );
      return { status: 200, body: this.policyBody(p) };
    }
    const policyType = req.url.searchParams.get('policyType');
    return this.page(
      req,
      live.filter((p) => !policyType || p.typeId === policyType.toLowerCase()).map((p) => this.policyBody(p)),
    );
  }

  private checkConfigurations(req: EmuRequest, project: AdoProject): EmuResponse {
    const q = req.url.searchParams;
    const resourceType = q.get('resourceType');
    const resourceId = q.get('resourceId');
    const expand = (q.get('$expand') ?? '').toLowerCase() === 'settings';
    const value = this.checks
      .filter((c) => c.projectId === project.id)
      .filter((c) => !resourceType || c.resource.type.toLowerCase() === resourceType.toLowerCase())
      .filter((c) => !resourceId || c.resource.id.toLowerCase() === resourceId.toLowerCase())
      .map((c) => this.checkBody(c, expand));
    return { status: 200, body: { count: value.length, value } };
  }

  private repoIn(project: AdoProject, idOrName: string): AdoRepository | undefined {
    const key = idOrName.toLowerCase();
    return [...this.repositories.values()].find((r) => r.projectId === project.id && (r.id === key || r.name.toLowerCase() === key));
  }

  private refsRoute(req: EmuRequest, project: AdoProject, idOrName: string): EmuResponse {
    const repo = this.repoIn(project, idOrName);
    if (!repo)
      return vssError(
        404,
        'GitRepositoryNotFoundException',
        `TF401019: The Git repository with name or identifier ${idOrName} does not exist or you do not have permissions for the operation you are attempting.`,
        'Microsoft.TeamFoundation.Git.Server',
      );
    const filter = req.url.searchParams.get('filter') ?? '';
    const value = this.graph(repo.id)
      .branches()
      .filter(([ref]) => ref.startsWith(`refs/${filter}`))
      .map(([ref, head]) => ({ name: ref, objectId: head, url: `${req.url.origin}${req.url.pathname}?filter=${ref.slice(5)}` }));
    return { status: 200, body: { value, count: value.length } };
  }

  private mergeBasesRoute(req: EmuRequest, project: AdoProject, idOrName: string, commitId: string): EmuResponse {
    const repo = this.repoIn(project, idOrName);
    if (!repo)
      return vssError(
        404,
        'GitRepositoryNotFoundException',
        `TF401019: The Git repository with name or identifier ${idOrName} does not exist or you do not have permissions for the operation you are attempting.`,
        'Microsoft.TeamFoundation.Git.Server',
      );
    const other = (req.url.searchParams.get('otherCommitId') ?? '').toLowerCase();
    const g = this.graph(repo.id);
    if (!g.has(commitId) || !g.has(other)) {
      return vssError(
        404,
        'GitCommitDoesNotExistException',
        `TF401175: The version descriptor <Commit: ${g.has(commitId) ? other : commitId}> could not be resolved to a version in the repository ${repo.name}`,
        'Microsoft.TeamFoundation.Git.Server',
      );
    }
    const value = g
      .mergeBases(commitId, other)
      .map((base) => ({ commitId: base, url: `${req.url.origin}/${project.id}/_apis/git/repositories/${repo.id}/commits/${base}` }));
    return { status: 200, body: { value, count: value.length } };
  }

  private repoNotFound(idOrName: string): EmuResponse {
    return vssError(
      404,
      'GitRepositoryNotFoundException',
      `TF401019: The Git repository with name or identifier ${idOrName} does not exist or you do not have permissions for the operation you are attempting.`,
      'Microsoft.TeamFoundation.Git.Server',
    );
  }

  /** An identity as Azure DevOps shows it in pull requests (IdentityRef). */
  private identity(req: EmuRequest, who: { id: string; displayName: string }): JsonObject {
    return {
      id: who.id,
      displayName: who.displayName,
      uniqueName: `${who.displayName.replace(/\s+/g, '.').toLowerCase()}@contoso.example`,
      url: `${req.url.origin}/_apis/Identities/${who.id}`,
      imageUrl: `${req.url.origin}/_api/_common/identityImage?id=${who.id}`,
    };
  }

  /** A pull request in the shape of the REST examples (GET pullRequests/{id}, list by status). */
  private pullRequestBody(req: EmuRequest, project: AdoProject, pr: AdoPullRequest): JsonObject {
    const org = req.segments[0];
    const repo = this.repositories.get(pr.repositoryId);
    const repoUrl = `${req.url.origin}/${org}/_apis/git/repositories/${pr.repositoryId}`;
    const commitRef = (c: string) => ({ commitId: c, url: `${repoUrl}/commits/${c}` });
    const source = pr.commits.at(-1);
    return {
      repository: {
        id: pr.repositoryId,
        name: repo?.name ?? pr.repositoryId,
        url: repoUrl,
        project: {
          id: project.id,
          name: project.name,
          description: '',
          url: `${req.url.origin}/${org}/_apis/projects/${project.id}`,
          state: 'wellFormed',
          revision: 1,
        },
        remoteUrl: `${req.url.origin}/${org}/${encodeURIComponent(project.name)}/_git/${encodeURIComponent(repo?.name ?? pr.repositoryId)}`,
      },
      pullRequestId: pr.id,
      codeReviewId: pr.id,
      status: pr.status,
      createdBy: this.identity(req, pr.createdBy),
      creationDate: pr.createdAt,
      ...(pr.closedAt ? { closedDate: pr.closedAt, completionQueueTime: pr.closedAt } : {}),
      title: `Pull request ${pr.id}`,
      description: '',
      sourceRefName: pr.sourceRefName,
      targetRefName: pr.targetRefName,
      mergeStatus: pr.lastMergeCommit ? 'succeeded' : 'notSet',
      isDraft: false,
      mergeId: `00000000-0000-4000-8000-${String(pr.id).padStart(12, '0')}`,
      ...(source ? { lastMergeSourceCommit: commitRef(source) } : {}),
      ...(pr.lastMergeTargetCommit ? { lastMergeTargetCommit: commitRef(pr.lastMergeTargetCommit) } : {}),
      ...(pr.lastMergeCommit ? { lastMergeCommit: commitRef(pr.lastMergeCommit) } : {}),
      reviewers: pr.reviewers.map((r) => this.reviewerBody(req, repoUrl, pr, r)),
      url: `${repoUrl}/pullRequests/${pr.id}`,
      supportsIterations: true,
    };
  }

  /** IdentityRefWithVote: hasDeclined, isFlagged and isRequired are always there; isContainer and votedFor when they apply. */
  private reviewerBody(req: EmuRequest, repoUrl: string, pr: AdoPullRequest, r: AdoReviewer): JsonObject {
    return {
      reviewerUrl: `${repoUrl}/pullRequests/${pr.id}/reviewers/${r.id}`,
      vote: r.vote,
      hasDeclined: r.hasDeclined ?? false,
      isRequired: r.isRequired ?? false,
      isFlagged: false,
      ...(r.votedFor
        ? {
            votedFor: r.votedFor.map((g) => ({
              ...this.identity(req, g),
              reviewerUrl: `${repoUrl}/pullRequests/${pr.id}/reviewers/${g.id}`,
              vote: r.vote,
              isContainer: true,
            })),
          }
        : {}),
      ...this.identity(req, r),
      ...(r.isContainer ? { isContainer: true } : {}),
    };
  }

  /** POST pullrequestquery: {queries: [{type: lastMergeCommit|commit, items: [sha...]}]} -> results[i][sha] = pull requests. */
  private pullRequestQuery(req: EmuRequest, project: AdoProject, idOrName: string): EmuResponse {
    const repo = this.repoIn(project, idOrName);
    if (!repo) return this.repoNotFound(idOrName);
    const body = jsonBody(req) as { queries?: Array<{ type?: unknown; items?: unknown }> } | undefined;
    const queries = Array.isArray(body?.queries) ? body!.queries : undefined;
    if (!queries) return vssError(400, 'ArgumentNullException', 'Value cannot be null.\r\nParameter name: queries', 'System');
    const results = queries.map((q) => {
      const type = String(q.type).toLowerCase();
      const byMerge = type === 'lastmergecommit' || type === '1';
      if (!byMerge && type !== 'commit' && type !== '2') return {};
      const items = Array.isArray(q.items) ? q.items.map((i) => String(i)) : [];
      return Object.fromEntries(
        items.map((item) => {
          const sha = item.toLowerCase();
          const prs = this.pullRequests.filter(
            (p) => p.repositoryId === repo.id && (byMerge ? p.lastMergeCommit === sha : p.commits.includes(sha)),
          );
          return [item, prs.map((p) => this.pullRequestBody(req, project, p))];
        }),
      );
    });
    return { status: 200, body: { queries, results } };
  }

  private reviewersRoute(req: EmuRequest, project: AdoProject, idOrName: string, prId: string): EmuResponse {
    const repo = this.repoIn(project, idOrName);
    if (!repo) return this.repoNotFound(idOrName);
    const pr = this.pullRequests.find((p) => p.repositoryId === repo.id && String(p.id) === prId);
    if (!pr)
      return vssError(
        404,
        'GitPullRequestNotFoundException',
        `TF401180: The requested pull request was not found.`,
        'Microsoft.TeamFoundation.Git.Server',
      );
    const value = this.pullRequestBody(req, project, pr).reviewers as JsonObject[];
    return { status: 200, body: { count: value.length, value } };
  }

  /** GET commits/{id}: the commit in the shape of the REST example, with its parents from the graph. */
  private commitRoute(req: EmuRequest, project: AdoProject, idOrName: string, commitId: string): EmuResponse {
    const repo = this.repoIn(project, idOrName);
    if (!repo) return this.repoNotFound(idOrName);
    const sha = commitId.toLowerCase();
    const parents = this.graph(repo.id).parents(sha);
    if (!parents)
      return vssError(
        404,
        'GitObjectNotFoundException',
        `TF401175: The commit ${commitId} could not be found in the repository ${repo.name}.`,
        'Microsoft.TeamFoundation.Git.Server',
      );
    const org = req.segments[0];
    const repoUrl = `${req.url.origin}/${org}/_apis/git/repositories/${repo.id}`;
    const web = `${req.url.origin}/${org}/${encodeURIComponent(project.name)}/_git/${encodeURIComponent(repo.name)}/commit/${sha}`;
    const date = new Date(this.ctx.clock.now()).toISOString();
    const person = { name: 'Contoso Dev', email: 'dev@contoso.example', date };
    return {
      status: 200,
      body: {
        parents,
        treeId: sha.split('').reverse().join(''),
        push: { pushedBy: this.identity(req, { id: '7a110000-0000-4000-8000-0000000000ff', displayName: 'Contoso Dev' }), pushId: 1, date },
        commitId: sha,
        author: person,
        committer: person,
        comment: `commit ${sha.slice(0, 7)}`,
        url: `${repoUrl}/commits/${sha}`,
        remoteUrl: web,
        _links: {
          self: { href: `${repoUrl}/commits/${sha}` },
          repository: { href: repoUrl },
          changes: { href: `${repoUrl}/commits/${sha}/changes` },
          web: { href: web },
          tree: { href: `${repoUrl}/trees/${sha}` },
        },
      },
    };
  }

  private repositoriesRoute(project: AdoProject, idOrName: string | undefined): EmuResponse {
    const org = this.orgById(project.orgId);
    const toBody = (r: AdoRepository): JsonObject => ({
      id: r.id,
      name: r.name,
      url: `${this.collectionUri(org.name)}${project.id}/_apis/git/repositories/${r.id}`,
      project: { id: project.id, name: project.name, state: 'wellFormed', visibility: 'private' },
      defaultBranch: r.defaultBranch,
      size: 0,
      remoteUrl: `${this.collectionUri(org.name)}${encodeURIComponent(project.name)}/_git/${encodeURIComponent(r.name)}`,
      webUrl: `${this.collectionUri(org.name)}${encodeURIComponent(project.name)}/_git/${encodeURIComponent(r.name)}`,
      isDisabled: false,
      isInMaintenance: false,
    });
    const repos = [...this.repositories.values()].filter((r) => r.projectId === project.id);
    if (idOrName === undefined) return { status: 200, body: { count: repos.length, value: repos.map(toBody) } };
    const key = idOrName.toLowerCase();
    const repo = repos.find((r) => r.id === key || r.name.toLowerCase() === key);
    if (!repo) {
      return vssError(
        404,
        'GitRepositoryNotFoundException',
        `TF401019: The Git repository with name or identifier ${idOrName} does not exist or you do not have permissions for the operation you are attempting.`,
        'Microsoft.TeamFoundation.Git.Server',
      );
    }
    return { status: 200, body: toBody(repo) };
  }

  /** Snapshot for the control API. */
  snapshot(): JsonObject {
    return {
      organizations: [...this.orgs.values()],
      projects: [...this.projects.values()],
      repositories: [...this.repositories.values()],
      serviceConnections: [...this.serviceConnections.values()],
      policies: this.policies.map((p) => this.policyBody(p)),
      checks: this.checks.map((c) => this.checkBody(c, true)),
    };
  }
}
