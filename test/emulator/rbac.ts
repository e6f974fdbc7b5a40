// Azure RBAC: role definitions as action patterns, assignments at a scope that apply to
// everything below it. Patterns use ARM's wildcard rules (case-insensitive, '*' spans '/').

export interface RoleDefinition {
  name: string;
  id: string;
  actions: string[];
  notActions: string[];
}

export interface RoleAssignment {
  principalId: string;
  roleName: string;
  scope: string;
}

/** Built-in roles, actions as published in the Azure built-in roles reference. */
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
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\/\*/g, '\u0000').replace(/\*/g, '.*').replace(/\u0000/g, '(?:/.*)?');
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

export class Rbac {
  private readonly roles = new Map<string, CompiledRole>();
  private assignments: RoleAssignment[] = [];

  constructor() {
    for (const r of BUILT_IN_ROLES) this.defineRole(r);
  }

  defineRole(def: RoleDefinition): void {
    this.roles.set(def.name.toLowerCase(), { def, actions: def.actions.map(patternToRegExp), notActions: def.notActions.map(patternToRegExp) });
  }

  role(name: string): RoleDefinition | undefined {
    return this.roles.get(name.toLowerCase())?.def;
  }

  grant(principalId: string, roleName: string, scope: string): RoleAssignment {
    if (!this.role(roleName)) throw new Error(`Unknown role '${roleName}'; define it with arm.rbac.defineRole`);
    const a: RoleAssignment = { principalId: principalId.toLowerCase(), roleName, scope };
    this.assignments.push(a);
    return a;
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

  /** True when some role assigned at or above `scope` allows `action` and does not exclude it. */
  isAllowed(principalId: string, action: string, scope: string): boolean {
    const pid = principalId.toLowerCase();
    return this.assignments.some((a) => {
      if (a.principalId !== pid || !scopeCovers(a.scope, scope)) return false;
      const role = this.roles.get(a.roleName.toLowerCase());
      if (!role) return false;
      return role.actions.some((r) => r.test(action)) && !role.notActions.some((r) => r.test(action));
    });
  }

  /** True when the principal holds any role at, above or below `scope` (used for subscription listing). */
  hasAnyAssignmentTouching(principalId: string, scope: string): boolean {
    const pid = principalId.toLowerCase();
    return this.assignments.some((a) => a.principalId === pid && (scopeCovers(a.scope, scope) || scopeCovers(scope, a.scope)));
  }
}
