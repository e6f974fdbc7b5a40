// Azure RBAC: role definitions as action patterns, assignments at a scope that apply to
// everything below it, and deny assignments that override them. Patterns use ARM's wildcard
// rules (case-insensitive, '*' spans '/').
import { randomUUID } from 'node:crypto';

export interface RoleDefinition {
  name: string;
  /** The role's GUID: the real one for built-in roles (the same in every cloud). */
  id: string;
  actions: string[];
  notActions: string[];
  /** BuiltInRole (default) or CustomRole. */
  type?: 'BuiltInRole' | 'CustomRole';
  description?: string;
  /** Custom roles: where they may be assigned (and where their definition lives). */
  assignableScopes?: string[];
}

export type PrincipalType = 'User' | 'Group' | 'ServicePrincipal' | 'ForeignGroup' | 'Device';

export interface RoleAssignment {
  /** The assignment's GUID (its ARM name). */
  id: string;
  principalId: string;
  principalType: PrincipalType;
  roleName: string;
  scope: string;
  condition?: string;
}

/** The principal id a deny assignment uses for "everyone" (type SystemDefined). */
export const EVERYONE = '00000000-0000-0000-0000-000000000000';

export interface DenyAssignment {
  id: string;
  name: string;
  scope: string;
  actions: string[];
  notActions: string[];
  principals: Array<{ id: string; type: string }>;
  excludePrincipals: Array<{ id: string; type: string }>;
  doNotApplyToChildScopes: boolean;
}

/**
 * Built-in roles, actions as published in the Azure built-in roles reference; authorization.test.ts
 * holds them against the vendored pages (reference/MicrosoftDocs+azure-docs/.../built-in-roles).
 */
export const BUILT_IN_ROLES: RoleDefinition[] = [
  { name: 'Owner', id: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635', actions: ['*'], notActions: [] },
  {
    name: 'Contributor',
    id: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
    actions: ['*'],
    notActions: [
      'Microsoft.Authorization/*/Delete',
      'Microsoft.Authorization/*/Write',
      'Microsoft.Authorization/elevateAccess/Action',
      'Microsoft.Blueprint/blueprintAssignments/write',
      'Microsoft.Blueprint/blueprintAssignments/delete',
      'Microsoft.Compute/galleries/share/action',
      'Microsoft.Purview/consents/write',
      'Microsoft.Purview/consents/delete',
      'Microsoft.Resources/deploymentStacks/manageDenySetting/action',
      'Microsoft.Subscription/cancel/action',
      'Microsoft.Subscription/enable/action',
    ],
  },
  { name: 'Reader', id: 'acdd72a7-3385-48ef-bd42-f606fba81ae7', actions: ['*/read'], notActions: [] },
  {
    name: 'AzureML Data Scientist',
    id: 'f6c7c914-8db3-469d-8ca1-694a8f32e121',
    actions: [
      'Microsoft.MachineLearningServices/workspaces/*/read',
      'Microsoft.MachineLearningServices/workspaces/*/action',
      'Microsoft.MachineLearningServices/workspaces/*/delete',
      'Microsoft.MachineLearningServices/workspaces/*/write',
    ],
    notActions: [
      'Microsoft.MachineLearningServices/workspaces/delete',
      'Microsoft.MachineLearningServices/workspaces/write',
      'Microsoft.MachineLearningServices/workspaces/computes/*/write',
      'Microsoft.MachineLearningServices/workspaces/computes/*/delete',
      'Microsoft.MachineLearningServices/workspaces/computes/listKeys/action',
      'Microsoft.MachineLearningServices/workspaces/listKeys/action',
      'Microsoft.MachineLearningServices/workspaces/hubs/write',
      'Microsoft.MachineLearningServices/workspaces/hubs/delete',
      'Microsoft.MachineLearningServices/workspaces/featurestores/write',
      'Microsoft.MachineLearningServices/workspaces/featurestores/delete',
    ],
  },
  // Registry assets only, plus reading the registry (actions as published for the built-in role).
  {
    name: 'AzureML Registry User',
    id: '1823dd4f-9b8c-4ab6-ab4e-7397a3684615',
    actions: ['Microsoft.MachineLearningServices/registries/read', 'Microsoft.MachineLearningServices/registries/assets/*'],
    notActions: [],
  },
  {
    name: 'User Access Administrator',
    id: '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
    actions: ['*/read', 'Microsoft.Authorization/*', 'Microsoft.Support/*'],
    notActions: [],
  },
  {
    name: 'Role Based Access Control Administrator',
    id: 'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
    actions: [
      'Microsoft.Authorization/roleAssignments/write',
      'Microsoft.Authorization/roleAssignments/delete',
      '*/read',
      'Microsoft.Support/*',
    ],
    notActions: [],
  },
  {
    name: 'AzureML Registry User',
    id: '1823dd4f-9b8c-4ab6-ab4e-7397a3684615',
    actions: ['Microsoft.MachineLearningServices/registries/read', 'Microsoft.MachineLearningServices/registries/assets/*'],
    notActions: [],
  },
  {
    name: 'Network Contributor',
    id: '4d97b98b-1d4f-4787-a291-c67834d212e7',
    actions: [
      'Microsoft.Authorization/*/read',
      'Microsoft.Insights/alertRules/*',
      'Microsoft.Network/*',
      'Microsoft.ResourceHealth/availabilityStatuses/read',
      'Microsoft.Resources/deployments/*',
      'Microsoft.Resources/subscriptions/resourceGroups/read',
      'Microsoft.Support/*',
    ],
    notActions: [],
  },
];

// '*' matches any characters including '/'. A '/*' segment may also match nothing, so
// 'workspaces/*' + '/read' covers 'workspaces/read' and 'computes/*' + '/write' covers 'computes/write':
// that is how the AzureML Data Scientist role reads its workspace but cannot create computes.
function patternToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
    .replace(/\/\*/g, '\u0000')
    .replace(/\*/g, '.*')
    .replace(/\u0000/g, '(?:/.*)?');
  return new RegExp(`^${escaped}$`, 'i');
}

function normScope(scope: string): string {
  const s = scope.trim().toLowerCase().replace(/\/+$/, '');
  return s === '' ? '/' : s;
}

export function scopeCovers(assignmentScope: string, requestScope: string): boolean {
  const a = normScope(assignmentScope);
  const r = normScope(requestScope);
  return a === '/' || r === a || r.startsWith(`${a}/`);
}

/** A role with its action patterns compiled once, when it is defined. */
interface CompiledRole {
  def: RoleDefinition;
  actions: RegExp[];
  notActions: RegExp[];
}

function compile(actions: string[], notActions: string[]): { actions: RegExp[]; notActions: RegExp[] } {
  return { actions: actions.map(patternToRegExp), notActions: notActions.map(patternToRegExp) };
}

const permits = (c: { actions: RegExp[]; notActions: RegExp[] }, action: string): boolean =>
  c.actions.some((r) => r.test(action)) && !c.notActions.some((r) => r.test(action));

export class Rbac {
  private readonly roles = new Map<string, CompiledRole>();
  private assignments: RoleAssignment[] = [];
  private denies: Array<DenyAssignment & { compiled: { actions: RegExp[]; notActions: RegExp[] } }> = [];

  constructor() {
    for (const r of BUILT_IN_ROLES) this.defineRole(r);
  }

  defineRole(def: RoleDefinition): void {
    this.roles.set(def.name.toLowerCase(), { def: { type: 'BuiltInRole', ...def }, ...compile(def.actions, def.notActions) });
  }

  role(name: string): RoleDefinition | undefined {
    return this.roles.get(name.toLowerCase())?.def;
  }

  /** A role by its GUID. */
  roleById(id: string): RoleDefinition | undefined {
    return [...this.roles.values()].find((r) => r.def.id.toLowerCase() === id.toLowerCase())?.def;
  }

  roleList(): RoleDefinition[] {
    return [...this.roles.values()].map((r) => r.def);
  }

  grant(
    principalId: string,
    roleName: string,
    scope: string,
    opts: { principalType?: PrincipalType; condition?: string } = {},
  ): RoleAssignment {
    if (!this.role(roleName)) throw new Error(`Unknown role '${roleName}'; define it with arm.rbac.defineRole`);
    const a: RoleAssignment = {
      id: randomUUID(),
      principalId: principalId.toLowerCase(),
      principalType: opts.principalType ?? 'ServicePrincipal',
      roleName: this.role(roleName)!.name,
      scope,
      ...(opts.condition ? { condition: opts.condition } : {}),
    };
    this.assignments.push(a);
    return a;
  }

  /** A deny assignment (Azure creates them for managed applications and deployment stacks). */
  deny(
    d: Omit<DenyAssignment, 'id' | 'excludePrincipals' | 'doNotApplyToChildScopes' | 'notActions'> & Partial<DenyAssignment>,
  ): DenyAssignment {
    const full: DenyAssignment = { id: randomUUID(), notActions: [], excludePrincipals: [], doNotApplyToChildScopes: false, ...d };
    this.denies.push({ ...full, compiled: compile(full.actions, full.notActions) });
    return full;
  }

  removeDeny(id: string): void {
    this.denies = this.denies.filter((d) => d.id !== id);
  }

  denyList(): DenyAssignment[] {
    return this.denies.map(({ compiled: _c, ...d }) => d);
  }

  /** Removes matching assignments; omitted filters match everything for that principal. */
  revoke(principalId: string, roleName?: string, scope?: string): number {
    const before = this.assignments.length;
    this.assignments = this.assignments.filter(
      (a) =>
        !(
          a.principalId === principalId.toLowerCase() &&
          (roleName === undefined || a.roleName.toLowerCase() === roleName.toLowerCase()) &&
          (scope === undefined || normScope(a.scope) === normScope(scope))
        ),
    );
    return before - this.assignments.length;
  }

  list(principalId?: string): RoleAssignment[] {
    return this.assignments.filter((a) => principalId === undefined || a.principalId === principalId.toLowerCase());
  }

  /**
   * True when some role assigned at or above `scope` allows `action` and does not exclude it,
   * and no deny assignment at or above `scope` denies it to the principal (deny wins).
   */
  isAllowed(principalId: string, action: string, scope: string): boolean {
    const pid = principalId.toLowerCase();
    const granted = this.assignments.some((a) => {
      if (a.principalId !== pid || !scopeCovers(a.scope, scope)) return false;
      const role = this.roles.get(a.roleName.toLowerCase());
      return !!role && permits(role, action);
    });
    return (
      granted &&
      !this.denies.some((d) => {
        const applies = d.doNotApplyToChildScopes ? normScope(d.scope) === normScope(scope) : scopeCovers(d.scope, scope);
        const targets =
          d.principals.some((p) => p.id.toLowerCase() === pid || p.id === EVERYONE) &&
          !d.excludePrincipals.some((p) => p.id.toLowerCase() === pid);
        return applies && targets && permits(d.compiled, action);
      })
    );
  }

  /** True when the principal holds any role at, above or below `scope` (used for subscription listing). */
  hasAnyAssignmentTouching(principalId: string, scope: string): boolean {
    const pid = principalId.toLowerCase();
    return this.assignments.some((a) => a.principalId === pid && (scopeCovers(a.scope, scope) || scopeCovers(scope, a.scope)));
  }
}
