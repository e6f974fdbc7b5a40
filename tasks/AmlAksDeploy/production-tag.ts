/**
 * Marking what production serves on the model versions themselves, so AmlModelRegister's
 * `compareWith: tag:stage=production` finds the real champion: the version brought to 100% gets
 * the production tag and the endpoint it serves; a version this endpoint no longer serves loses
 * them (its stage becomes `retired`). Tags are the only thing changed: a model version's files and
 * properties are immutable, and Azure ML accepts a PUT that changes only tags.
 */
import { errorLine, UserError } from '../common/errors';
import type { ArmResource, WorkspaceArm } from '../common/workspace-arm';
import { msg } from './messages';

/** The tag that marks the version in production, e.g. `stage=production`; parsed from the input. */
export interface ProductionTag {
  key: string;
  value: string;
}

/** The tag that says which endpoint a production version serves (workspace/endpoint). */
export const SERVES_TAG = 'production.endpoint';

export function parseProductionTag(text: string | undefined): ProductionTag | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const m = /^([A-Za-z0-9_.-]{1,128})=([^\s=]{1,256})$/.exec(text.trim());
  if (!m) throw new UserError(msg('ProductionTagInvalid', text), 'productionTag');
  return { key: m[1]!, value: m[2]! };
}

type ModelProps = { tags?: Record<string, string> } & Record<string, unknown>;

/**
 * PUT the version back with its tags changed by `edit`, when `edit` says it changed something (GET
 * first: everything else stays as Azure has it). Returns whether it wrote.
 */
async function retag(ws: WorkspaceArm, modelId: string, edit: (tags: Record<string, string>) => boolean): Promise<boolean> {
  const path = modelId.slice(ws.base.length + 1);
  const v = await ws.get<ArmResource<ModelProps>>(path);
  const props = { ...(v.properties ?? {}) };
  const tags = { ...(props.tags ?? {}) };
  if (!edit(tags)) return false;
  // Read-only properties Azure returns but refuses on a write.
  delete props.provisioningState;
  await ws.put(path, { properties: { ...props, tags } });
  return true;
}

/**
 * Tag `modelId` as production for `endpoint`, and retire the versions in `previousModelIds` that
 * were production for this endpoint. Returns the problems (the rollout itself succeeded either way).
 */
export async function markProduction(
  ws: WorkspaceArm,
  tag: ProductionTag,
  endpoint: string,
  modelId: string,
  previousModelIds: string[],
  log: (line: string) => void,
): Promise<string[]> {
  const serves = `${ws.ref.name}/${endpoint}`;
  const inWorkspace = (id: string): boolean => id.toLowerCase().startsWith(`${ws.base.toLowerCase()}/models/`);
  const label = (id: string): string => id.replace(/^.*\/models\/([^/]+)\/versions\/([^/]+)$/, '$1:$2');
  const problems: string[] = [];
  if (!inWorkspace(modelId)) {
    log(msg('ProductionTagNotHere', label(modelId)));
    return problems;
  }
  try {
    await retag(ws, modelId, (t) => {
      t[tag.key] = tag.value;
      t[SERVES_TAG] = serves;
      return true;
    });
    log(msg('ProductionTagged', label(modelId), `${tag.key}=${tag.value}`, serves));
  } catch (e) {
    problems.push(msg('ProductionTagFailed', label(modelId), errorLine(e)));
  }
  for (const old of new Set(previousModelIds.filter((id) => inWorkspace(id) && id.toLowerCase() !== modelId.toLowerCase()))) {
    try {
      // Only what this endpoint made production: a version that is production elsewhere keeps its tags.
      const retired = await retag(ws, old, (t) => {
        if (t[SERVES_TAG] !== serves) return false;
        delete t[SERVES_TAG];
        if (t[tag.key] === tag.value) t[tag.key] = 'retired';
        return true;
      });
      if (retired) log(msg('ProductionTagRetired', label(old), `${tag.key}=retired`, serves));
    } catch (e) {
      problems.push(msg('ProductionTagFailed', label(old), errorLine(e)));
    }
  }
  return problems;
}
