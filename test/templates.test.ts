/**
 * Template validation: every file under templates/ and the example azure-pipelines.yml are
 * expanded (template expressions evaluated, template references followed, see
 * testkit/yaml-pipeline/expand.ts) and the result is validated against the official Azure Pipelines
 * schema extended with this repository's tasks (testkit/yaml-pipeline/validate.ts). Templates are
 * fragments: a steps template is validated as a stepList, a stages template as stages. No file is
 * skipped because it has expressions; constructs the expander does not support fail the test with
 * a message that says so ("... is not supported by this validator").
 *
 * Expressions: parameters are bound with the template's typed declarations (defaults, values,
 * types), `${{ if/elseif/else/each/insert }}` and whole-value and embedded `${{ }}` are expanded,
 * and each template is expanded under several parameter sets so every conditional is validated
 * both ways (the last test proves it). Not supported: compile-time `variables`, templates in other
 * repositories (`@alias`), variable templates, templates extending templates, YAML anchors, the
 * `*` filter; see testkit/yaml-pipeline/expression.ts and expand.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseDocument } from 'yaml';
import { ROOT } from '../testkit/harness';
import { TemplateError, type DirectiveEvent, type ExpandedTemplate, type ParameterDecl, type Value } from '../testkit/yaml-pipeline/expand';
import { formatProblem, mustSet, normalize, PipelineValidator, type Kind } from '../testkit/yaml-pipeline/validate';

const FIX = 'test/fixtures/templates';
const validator = new PipelineValidator(ROOT);
const events: DirectiveEvent[] = [];
const expander = validator.expander((e) => events.push(e));

const abs = (rel: string) => path.join(ROOT, rel);
const walk = (d: string): string[] =>
  fs
    .readdirSync(d, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : /\.ya?ml$/.test(e.name) ? [path.join(d, e.name)] : []));
const TEMPLATES = walk(abs('templates'))
  .map((f) => path.relative(ROOT, f).split(path.sep).join('/'))
  .sort();

type Obj = Record<string, Value>;
const obj = (v: Value | undefined): Obj => {
  assert.ok(v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v), `expected a mapping, got ${JSON.stringify(v)}`);
  return v as Obj;
};
const arr = (v: Value | undefined): Value[] => {
  assert.ok(Array.isArray(v), `expected a sequence, got ${JSON.stringify(v)}`);
  return v;
};

/** Problems of a pipeline file, expanded; expansion errors are problems too. */
function pipelineProblems(rel: string, parameters: Obj = {}): string[] {
  try {
    const p = expander.expandPipeline(abs(rel), parameters);
    return validator.check('pipeline', p, { file: rel, line: 0 }).map(formatProblem);
  } catch (e) {
    if (e instanceof TemplateError) return [e.message];
    throw e;
  }
}

function expandTemplate(rel: string, given: Obj): ExpandedTemplate {
  return expander.expandTemplate(abs(rel), given);
}

function templateProblems(t: ExpandedTemplate): string[] {
  return validator.check(t.kind as Kind, t.body[t.kind]!, { file: t.file, line: 0 }).map(formatProblem);
}

/** A value for a parameter the template requires (no default), by type. */
function placeholder(d: ParameterDecl): Value {
  switch (d.type) {
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'object':
      return {};
    case 'stepList':
    case 'jobList':
    case 'stageList':
    case 'deploymentList':
      return [];
    default:
      return d.values?.[0] ?? `sample-${d.name}`;
  }
}

/**
 * Parameter sets that drive every branch our templates have: defaults; every boolean flipped;
 * every `values` choice; every optional (empty by default) string set; a step in every stepList.
 */
function variants(decls: ParameterDecl[]): Array<{ label: string; given: Obj }> {
  const base: Obj = Object.fromEntries(decls.filter((d) => !d.hasDefault).map((d) => [d.name, placeholder(d)]));
  const out = [{ label: 'defaults', given: base }];
  const flips = decls.filter((d) => d.type === 'boolean');
  if (flips.length)
    out.push({
      label: 'booleans flipped',
      given: { ...base, ...Object.fromEntries(flips.map((d) => [d.name, String(d.default).toLowerCase() !== 'true'])) },
    });
  for (const d of decls)
    for (const v of d.values ?? []) if (v !== d.default) out.push({ label: `${d.name}=${v}`, given: { ...base, [d.name]: v } });
  const optional = decls.filter((d) => d.type === 'string' && d.hasDefault && d.default === '');
  if (optional.length)
    out.push({
      label: 'optional strings set',
      given: { ...base, ...Object.fromEntries(optional.map((d) => [d.name, `sample-${d.name}`])) },
    });
  const lists = decls.filter((d) => d.type === 'stepList');
  if (lists.length)
    out.push({
      label: 'a download step in every stepList',
      given: {
        ...base,
        ...Object.fromEntries(
          lists.map((d) => [d.name, [{ task: 'DownloadPipelineArtifact@2', inputs: { source: 'current', artifact: 'sample' } }]]),
        ),
      },
    });
  return out;
}

/** Every variant of a template expands and validates; returns the default expansion. */
function validateTemplate(rel: string): ExpandedTemplate {
  const decls = expander.declarationsOf(abs(rel));
  // The declarations themselves must be valid template parameters.
  const raw = (parseDocument(fs.readFileSync(abs(rel), 'utf8'), { schema: 'failsafe' }).toJS() as { parameters?: Value }).parameters ?? [];
  const declProblems = validator
    .schemaProblems('templateParameters', normalize(raw), ['parameters'], { file: rel, line: 0 })
    .map(formatProblem);
  assert.deepEqual(declProblems, [], `${rel}: parameter declarations are not valid:\n${declProblems.join('\n')}`);
  let first: ExpandedTemplate | undefined;
  for (const v of variants(decls)) {
    let t: ExpandedTemplate;
    try {
      t = expandTemplate(rel, v.given);
    } catch (e) {
      if (e instanceof TemplateError) assert.fail(`${rel} (${v.label}): ${e.message}`);
      throw e;
    }
    const problems = templateProblems(t);
    assert.deepEqual(problems, [], `${rel} (${v.label}) expanded to invalid ${t.kind}:\n${problems.join('\n')}`);
    first ??= t;
  }
  return first!;
}

const stageNamed = (stages: Value[], name: string) => obj(stages.find((s) => obj(s).stage === name));
const jobNamed = (stage: Obj, name: string) => obj(arr(stage.jobs).find((j) => obj(j).job === name || obj(j).deployment === name));
const stepsOf = (job: Obj): Obj[] => (job.steps ? arr(job.steps).map(obj) : arr(obj(obj(obj(job.strategy).runOnce).deploy).steps).map(obj));
const taskStep = (job: Obj, name: string) => stepsOf(job).find((s) => s.name === name);

test('the official schema, extended with our four tasks from their task.json, accepts each task with its required inputs', () => {
  assert.deepEqual(
    validator.tasks.map((t) => t.ref),
    ['AmlAksDeploy@1', 'AmlModelRegister@1', 'AmlPipelineJob@1', 'AmlPrivateLinkCheck@1'],
  );
  const known = (
    validator.schema as { definitions: { task: { properties: { task: { anyOf: Array<{ enum?: string[] }> } } } } }
  ).definitions.task.properties.task.anyOf.flatMap((a) => a.enum ?? []);
  for (const t of validator.tasks) {
    assert.ok(known.includes(t.ref), `${t.ref} is not in the schema's task list`);
    const inputs = Object.fromEntries(
      t.inputs.filter(mustSet).map((i) => [i.name, i.type === 'boolean' ? 'true' : (i.options?.[0] ?? 'x')]),
    );
    assert.deepEqual(validator.check('steps', [{ task: t.ref, inputs }]).map(formatProblem), [], `${t.ref} with its required inputs`);
    // The schema alone (without our clearer checks) rejects an undeclared input and a missing required one.
    const schemaOnly = validator
      .schemaProblems('steps', [{ task: t.ref, inputs: { ...inputs, notAnInput: 'x' } }], ['steps'], { file: 'inline', line: 0 })
      .map(formatProblem);
    assert.ok(
      schemaOnly.some((p) => p.includes("unexpected property 'notAnInput'")),
      schemaOnly.join('\n'),
    );
  }
  // A built-in task still validates against Microsoft's own entry (booleans in the string view).
  assert.deepEqual(
    validator
      .check('steps', [{ task: 'DownloadPipelineArtifact@2', inputs: { artifact: 'drop' }, continueOnError: true }])
      .map(formatProblem),
    [],
  );
});

test('every file under templates/ is validated; none is skipped', () => {
  assert.deepEqual(
    TEMPLATES,
    [
      'templates/pipelines/secure-mlops.yml',
      'templates/stages/train-evaluate-register-deploy.yml',
      'templates/steps/aks-deploy.yml',
      'templates/steps/model-register.yml',
      'templates/steps/pipeline-job.yml',
      'templates/steps/private-link-check.yml',
    ],
    'a new template needs a test below',
  );
});

test('each step template expands (defaults and every branch) to one named step of a shipped task', () => {
  const expected: Record<string, [string, string]> = {
    'templates/steps/private-link-check.yml': ['AmlPrivateLinkCheck@1', 'privateLink'],
    'templates/steps/pipeline-job.yml': ['AmlPipelineJob@1', 'train'],
    'templates/steps/model-register.yml': ['AmlModelRegister@1', 'register'],
    'templates/steps/aks-deploy.yml': ['AmlAksDeploy@1', 'deploy'],
  };
  for (const [rel, [ref, name]] of Object.entries(expected)) {
    const t = validateTemplate(rel);
    assert.equal(t.kind, 'steps');
    const steps = arr(t.body.steps);
    assert.equal(steps.length, 1, rel);
    assert.equal(obj(steps[0]).task, ref, rel);
    assert.equal(obj(steps[0]).name, name, `${rel}: the step is named so its outputs are addressable`);
    // Every input of the task is reachable from a parameter of the template.
    const task = validator.task(ref)!;
    const withAll = expandTemplate(rel, {
      ...Object.fromEntries(t.decls.filter((d) => !d.hasDefault).map((d) => [d.name, placeholder(d)])),
      ...(rel.includes('private-link') ? { serviceConnection: 'c' } : {}),
    });
    assert.deepEqual(
      Object.keys(obj(obj(arr(withAll.body.steps)[0]).inputs)).sort(),
      task.inputs.map((i) => i.name).sort(),
      `${rel} exposes every input of ${ref}`,
    );
  }
});

test('the stage template chains check, train, evaluate+register and a deployment job, wired through stageDependencies', () => {
  const rel = 'templates/stages/train-evaluate-register-deploy.yml';
  const t = validateTemplate(rel);
  assert.equal(t.kind, 'stages');
  assert.deepEqual(
    t.decls.map((d) => d.name),
    [
      'serviceConnection',
      'resourceGroup',
      'workspace',
      'registry',
      'registryResourceGroup',
      'productionServiceConnection',
      'productionResourceGroup',
      'productionWorkspace',
      'pool',
      'jobFile',
      'jobOverrides',
      'trainTimeoutMinutes',
      'modelName',
      'modelOutput',
      'modelType',
      'metricGate',
      'compareWith',
      'minImprovement',
      'endpointName',
      'computeName',
      'deploymentFile',
      'instanceType',
      'instanceCount',
      'rollout',
      'stepWaitSeconds',
      'smokeTestFile',
      'smokeTestExpect',
      'environment',
      'protectedBranches',
      'requireBranchPolicy',
      'minimumReviewers',
      'githubConnection',
      'checkAccess',
      'allowedPrincipals',
      'recheckPrivateLink',
      'runDiagnose',
      'preSteps',
    ],
  );
  const stages = arr(t.body.stages);
  assert.deepEqual(
    stages.map((s) => obj(s).stage),
    ['NetworkCheck', 'Train', 'Evaluate', 'Deploy'],
  );
  const train = jobNamed(stageNamed(stages, 'Train'), 'train');
  assert.equal(taskStep(train, 'train')?.task, 'AmlPipelineJob@1');
  const evaluate = jobNamed(stageNamed(stages, 'Evaluate'), 'evaluate');
  assert.equal(obj(evaluate.variables).amlJobName, "$[ stageDependencies.Train.train.outputs['train.jobName'] ]");
  const register = obj(taskStep(evaluate, 'register'));
  assert.equal(obj(register.inputs).jobName, '$(amlJobName)');
  assert.equal(obj(register.inputs).onGateFail, 'skip', 'a worse model stops the flow cleanly, not with a failure');
  const deployStage = stageNamed(stages, 'Deploy');
  assert.equal(deployStage.condition, "and(succeeded(), eq(dependencies.Evaluate.outputs['evaluate.register.registered'], 'true'))");
  const rollout = jobNamed(deployStage, 'rollout');
  assert.ok('deployment' in rollout, 'Deploy runs in a deployment job');
  assert.equal(rollout.environment, 'aml-production', 'bound to an environment, so its approvals and checks apply');
  assert.deepEqual(Object.keys(obj(rollout.strategy)), ['runOnce']);
  assert.equal(obj(rollout.variables).registeredModelId, "$[ stageDependencies.Evaluate.evaluate.outputs['register.modelId'] ]");
  assert.equal(obj(taskStep(rollout, 'deploy')!.inputs).model, '$(registeredModelId)');
  // The private-link check is first, and each Azure job re-checks its own agent by default.
  assert.equal(taskStep(jobNamed(stageNamed(stages, 'NetworkCheck'), 'check'), 'privateLink')?.task, 'AmlPrivateLinkCheck@1');
  for (const job of [train, evaluate, rollout]) assert.equal(taskStep(job, 'privateLinkAgent')?.task, 'AmlPrivateLinkCheck@1');
  // The access audit runs once, in NetworkCheck; the per-agent re-checks only resolve names.
  assert.equal(obj(taskStep(jobNamed(stageNamed(stages, 'NetworkCheck'), 'check'), 'privateLink')!.inputs).checkAccess, true);
  for (const job of [train, evaluate, rollout]) assert.equal(obj(taskStep(job, 'privateLinkAgent')!.inputs).checkAccess, false);
  for (const s of stages) {
    for (const j of arr(obj(s).jobs)) {
      // Every Azure job runs on the pool parameter (self-hosted, in the VNet)...
      assert.deepEqual(obj(j).pool, { name: 'aml-vnet-agents', demands: ['Agent.OS -equals Linux'] });
      // ...and no pipeline variable can load code into the tasks or turn off TLS checks.
      for (const name of ['NODE_OPTIONS', 'NODE_PATH', 'NODE_TLS_REJECT_UNAUTHORIZED'])
        assert.equal(obj(obj(j).variables)[name], '', `${String(obj(j).job ?? obj(j).deployment)} blanks ${name}`);
    }
  }
});

test('with a registry, the stage template trains in development, promotes the registered version after the gate, and deploys it from the registry in production', () => {
  const rel = 'templates/stages/train-evaluate-register-deploy.yml';
  const given = {
    serviceConnection: 'aml-dev-connection',
    resourceGroup: 'rg-mlops-dev',
    workspace: 'mlw-dev',
    registry: 'mlr-shared',
    registryResourceGroup: 'rg-mlops-shared',
    productionServiceConnection: 'aml-prod-connection',
    productionResourceGroup: 'rg-mlops-prod',
    productionWorkspace: 'mlw-prod',
    jobFile: 'f.yml',
    modelName: 'taxi',
    metricGate: 'train.auc >= 0.8',
    endpointName: 'taxi-prod',
    computeName: 'aks',
  };
  for (const recheck of [true, false]) {
    const t = expandTemplate(rel, { ...given, recheckPrivateLink: recheck });
    assert.deepEqual(templateProblems(t), []);
    const stages = arr(t.body.stages);
    assert.deepEqual(
      stages.map((s) => obj(s).stage),
      ['NetworkCheck', 'Train', 'Evaluate', 'Promote', 'Deploy'],
    );
    const inputs = (job: Obj, step: string) => obj(taskStep(job, step)!.inputs);
    // Development: network check (with the registry), train and register under the development connection.
    const check = jobNamed(stageNamed(stages, 'NetworkCheck'), 'check');
    assert.deepEqual(
      [
        inputs(check, 'privateLink').workspaceName,
        inputs(check, 'privateLink').registryName,
        inputs(check, 'privateLink').azureSubscription,
      ],
      ['mlw-dev', 'mlr-shared', 'aml-dev-connection'],
    );
    assert.deepEqual(
      [
        inputs(check, 'privateLinkProduction').workspaceName,
        inputs(check, 'privateLinkProduction').registryName,
        inputs(check, 'privateLinkProduction').azureSubscription,
      ],
      ['mlw-prod', 'mlr-shared', 'aml-prod-connection'],
    );
    assert.equal(inputs(jobNamed(stageNamed(stages, 'Train'), 'train'), 'train').workspaceName, 'mlw-dev');
    const register = inputs(jobNamed(stageNamed(stages, 'Evaluate'), 'evaluate'), 'register');
    assert.deepEqual([register.workspaceName, register.registryName, register.azureSubscription], ['mlw-dev', '', 'aml-dev-connection']);
    // Promote: after Evaluate registered, the same gate against the registry, the production connection.
    const promoteStage = stageNamed(stages, 'Promote');
    assert.equal(promoteStage.condition, "and(succeeded(), eq(dependencies.Evaluate.outputs['evaluate.register.registered'], 'true'))");
    const promote = jobNamed(promoteStage, 'promote');
    assert.equal(obj(promote.variables).devModelVersion, "$[ stageDependencies.Evaluate.evaluate.outputs['register.modelVersion'] ]");
    const p = inputs(promote, 'promote');
    assert.deepEqual(
      [p.azureSubscription, p.workspaceName, p.registryName, p.registryResourceGroup, p.sourceModel, p.metricGate, p.onGateFail],
      ['aml-prod-connection', 'mlw-dev', 'mlr-shared', 'rg-mlops-shared', '$(devModelName):$(devModelVersion)', 'train.auc >= 0.8', 'skip'],
    );
    assert.equal(!!taskStep(promote, 'privateLinkAgent'), recheck);
    // Deploy: in production, from the registry, after Promote promoted.
    const deployStage = stageNamed(stages, 'Deploy');
    assert.equal(deployStage.dependsOn, 'Promote');
    assert.equal(deployStage.condition, "and(succeeded(), eq(dependencies.Promote.outputs['promote.promote.registered'], 'true'))");
    const rollout = jobNamed(deployStage, 'rollout');
    assert.equal(obj(rollout.variables).registeredModelId, "$[ stageDependencies.Promote.promote.outputs['promote.modelId'] ]");
    const deploy = inputs(rollout, 'deploy');
    assert.deepEqual(
      [deploy.azureSubscription, deploy.resourceGroupName, deploy.workspaceName, deploy.model],
      ['aml-prod-connection', 'rg-mlops-prod', 'mlw-prod', '$(registeredModelId)'],
    );
    if (recheck)
      assert.deepEqual(
        [inputs(rollout, 'privateLinkAgent').workspaceName, inputs(rollout, 'privateLinkAgent').registryName],
        ['mlw-prod', 'mlr-shared'],
      );
  }
});

test('the extends template fixes the stages, the gate and the checks, and accepts allow-listed preSteps', () => {
  const rel = 'templates/pipelines/secure-mlops.yml';
  const t = validateTemplate(rel);
  const stages = arr(t.body.stages);
  assert.deepEqual(
    stages.map((s) => obj(s).stage),
    ['NetworkCheck', 'Train', 'Evaluate', 'Deploy'],
  );
  const names = t.decls.map((d) => d.name);
  for (const fixed of ['requireBranchPolicy', 'recheckPrivateLink'])
    assert.ok(!names.includes(fixed), `${fixed} is fixed, not a parameter`);
  const problems = pipelineProblems(`${FIX}/extends-allowed-presteps.yml`);
  assert.deepEqual(problems, []);
  const p = expander.expandPipeline(abs(`${FIX}/extends-allowed-presteps.yml`));
  const trainSteps = stepsOf(jobNamed(stageNamed(arr(p.stages), 'Train'), 'train'));
  assert.deepEqual(
    trainSteps.map((s) => s.checkout ?? s.task),
    ['self', 'DownloadPipelineArtifact@2', 'AmlPrivateLinkCheck@1', 'AmlPrivateLinkCheck@1', 'AmlPipelineJob@1'],
  );
  // The template, not the pipeline, decides where a pre-step downloads and which branches its check may run from.
  assert.deepEqual(obj(trainSteps[1]!.inputs), {
    source: 'current',
    artifact: 'data-manifest',
    targetPath: '$(Pipeline.Workspace)/pre-steps',
  });
  assert.deepEqual(obj(trainSteps[2]!.inputs), {
    fqdns: 'datalakeprod.dfs.core.windows.net\n',
    enforceBranchGate: 'true',
    protectedBranches: 'refs/heads/main',
    requireBranchPolicy: 'true',
    minimumReviewers: 1,
    githubConnection: '',
  });
});

test('the extends template refuses every pre-step that could undercut the production steps: downloads into the tasks or sources, DNS servers of its own, the gate off', () => {
  const problems = pipelineProblems(`${FIX}/extends-hostile-presteps.yml`);
  assert.equal(problems.length, 1, problems.join('\n'));
  const refused = problems[0]!.split('\n  ').slice(1);
  const why = [
    'steps[0].inputs: the template refused this input: REFUSED by secure-mlops: input targetPath of DownloadPipelineArtifact@2 is not allowed in preSteps',
    'steps[1].inputs: the template refused this input: REFUSED by secure-mlops: input path of DownloadPipelineArtifact@2 is not allowed in preSteps',
    "steps[2]: the template refused this input: REFUSED by secure-mlops: preSteps may only run allow-listed tasks; 'download' is not allowed before the Azure ML stages",
    'steps[3]: the template refused this input: REFUSED by secure-mlops: DownloadPipelineArtifact@2 in preSteps needs inputs',
    'steps[4].inputs: the template refused this input: REFUSED by secure-mlops: input dnsServers of AmlPrivateLinkCheck@1 is not allowed in preSteps',
    'steps[5].inputs: the template refused this input: REFUSED by secure-mlops: input enforceBranchGate of AmlPrivateLinkCheck@1 is not allowed in preSteps',
  ];
  for (const w of why)
    assert.ok(
      refused.some((p) => p.startsWith(w)),
      `missing "${w}" in:\n${refused.join('\n')}`,
    );
});

test('the example azure-pipelines.yml validates as written and fully expanded, with outputs wired to inputs', () => {
  // As written: a pipeline that extends the template.
  const written = parseDocument(fs.readFileSync(abs('azure-pipelines.yml'), 'utf8'), { schema: 'failsafe' }).toJS() as Value;
  assert.deepEqual(validator.check('pipeline', written, { file: 'azure-pipelines.yml', line: 0 }).map(formatProblem), []);
  // Expanded: the pipeline the service runs.
  assert.deepEqual(pipelineProblems('azure-pipelines.yml'), []);
  const p = obj(normalize(expander.expandPipeline(abs('azure-pipelines.yml'))));
  const stages = arr(p.stages);
  const train = obj(taskStep(jobNamed(stageNamed(stages, 'Train'), 'train'), 'train')!.inputs);
  assert.equal(train.jobFile, 'examples/mlops/pipeline.yml');
  assert.equal(train.requireBranchPolicy, 'True');
  const register = obj(taskStep(jobNamed(stageNamed(stages, 'Evaluate'), 'evaluate'), 'register')!.inputs);
  assert.equal(register.modelOutput, 'trained_model');
  assert.equal(register.metricGate, 'train.auc >= 0.80\ntrain.rmse <= 0.45\n');
  const deploy = obj(taskStep(jobNamed(stageNamed(stages, 'Deploy'), 'rollout'), 'deploy')!.inputs);
  assert.equal(deploy.smokeTestFile, 'examples/mlops/deploy/sample-request.json');
  assert.equal(deploy.stepWaitSeconds, '120');
  // Two workspaces: train and register in development, promote into the registry, deploy in production from it.
  assert.deepEqual(
    stages.map((s) => obj(s).stage),
    ['NetworkCheck', 'Train', 'Evaluate', 'Promote', 'Deploy'],
  );
  assert.deepEqual(
    [train.workspaceName, register.workspaceName, register.azureSubscription],
    ['mlw-dev-weu', 'mlw-dev-weu', 'aml-dev-connection'],
  );
  const promote = obj(taskStep(jobNamed(stageNamed(stages, 'Promote'), 'promote'), 'promote')!.inputs);
  assert.deepEqual(
    [promote.registryName, promote.sourceModel, promote.azureSubscription, promote.metricGate],
    ['mlr-shared-weu', '$(devModelName):$(devModelVersion)', 'aml-prod-connection', register.metricGate],
  );
  assert.deepEqual(
    [deploy.workspaceName, deploy.azureSubscription, deploy.model],
    ['mlw-prod-weu', 'aml-prod-connection', '$(registeredModelId)'],
  );
  assert.equal(
    obj(jobNamed(stageNamed(stages, 'Deploy'), 'rollout').variables).registeredModelId,
    "$[ stageDependencies.Promote.promote.outputs['promote.modelId'] ]",
  );
});

test("the example's Azure ML job exists, and the gate, model output and smoke test match it", () => {
  const p = expander.expandPipeline(abs('azure-pipelines.yml'));
  const stages = arr(p.stages);
  const inputs = (stage: string, job: string, step: string) => obj(taskStep(jobNamed(stageNamed(stages, stage), job), step)!.inputs);
  const jobFile = String(inputs('Train', 'train', 'train').jobFile);
  const job = parseDocument(fs.readFileSync(abs(jobFile), 'utf8')).toJS() as {
    jobs: Record<string, { component: string }>;
    outputs: Record<string, unknown>;
  };
  const register = inputs('Evaluate', 'evaluate', 'register');
  assert.ok(
    Object.keys(job.outputs).includes(String(register.modelOutput)),
    `modelOutput '${register.modelOutput}' is an output of ${jobFile}`,
  );
  for (const line of String(register.metricGate).split('\n').filter(Boolean)) {
    const [step, metric] = line.split(/\s/)[0]!.split('.') as [string, string];
    assert.ok(job.jobs[step], `gate '${line}': ${jobFile} has a step '${step}'`);
    const component = parseDocument(fs.readFileSync(path.join(path.dirname(abs(jobFile)), job.jobs[step].component), 'utf8')).toJS() as {
      code: string;
      command: string;
    };
    const script = path.join(path.dirname(abs(jobFile)), 'components', component.code, /python (\S+)/.exec(component.command)![1]!);
    assert.match(
      fs.readFileSync(script, 'utf8'),
      new RegExp(`log_metric\\("${metric}"`),
      `gate '${line}': ${path.relative(ROOT, script)} logs '${metric}'`,
    );
  }
  const deploy = inputs('Deploy', 'rollout', 'deploy');
  assert.doesNotThrow(() => JSON.parse(fs.readFileSync(abs(String(deploy.smokeTestFile)), 'utf8')));
});

test('catches a misspelled input and names the file, the path, the input and the valid inputs', () => {
  const problems = pipelineProblems(`${FIX}/bad-input.yml`);
  const unknown = problems.find((p) => p.includes("unknown input 'jobFlie'"));
  assert.ok(unknown, problems.join('\n'));
  assert.match(unknown, /^test\/fixtures\/templates\/bad-input\.yml:\d+: steps\[1\]\.inputs: /);
  assert.match(unknown, /for AmlPipelineJob@1\. Did you mean 'jobFile'\?/);
  assert.match(
    unknown,
    /Valid inputs of AmlPipelineJob@1 \(tasks\/AmlPipelineJob\/task\.json\): azureSubscription \(alias azureResourceManagerConnection\), resourceGroupName, workspaceName, jobFile, /,
  );
  assert.ok(
    problems.some((p) => p.includes("required input 'jobFile' of AmlPipelineJob@1 is missing")),
    problems.join('\n'),
  );
  // The extended official schema rejects it too.
  assert.ok(
    problems.some((p) => p.includes("unexpected property 'jobFlie'") && p.includes('#/definitions/task/anyOf/')),
    problems.join('\n'),
  );
});

test('refuses task references that are not shipped, and wrong values: missing, empty, pickList, boolean, alias twice', () => {
  const refs = pipelineProblems(`${FIX}/bad-task-refs.yml`);
  assert.ok(
    refs.some((p) => p.includes("steps[0].task: 'AmlPipelineJob@2' does not name a shipped major version: use AmlPipelineJob@1")),
    refs.join('\n'),
  );
  assert.ok(
    refs.some((p) =>
      p.includes(
        "steps[1].task: 'AmlModelDeploy@1' is not a task this extension ships (shipped: AmlAksDeploy@1, AmlModelRegister@1, AmlPipelineJob@1, AmlPrivateLinkCheck@1)",
      ),
    ),
    refs.join('\n'),
  );
  const values = pipelineProblems(`${FIX}/bad-values.yml`);
  const expect = [
    "steps[0].inputs: required input 'computeName' of AmlAksDeploy@1 is missing",
    "steps[0].inputs.workspaceName: required input 'workspaceName' of AmlAksDeploy@1 is empty",
    "steps[0].inputs.authMode: input 'authMode' of AmlAksDeploy@1 must be one of 'key', 'aml_token', not 'anonymous'",
    "steps[0].inputs.keepPrevious: input 'keepPrevious' of AmlAksDeploy@1 is a boolean: 'true' or 'false', not 'yes'",
    "steps[0].inputs: input 'azureSubscription' of AmlAksDeploy@1 is set twice (azureSubscription and azureResourceManagerConnection)",
  ];
  for (const e of expect)
    assert.ok(
      values.some((p) => p.includes(e)),
      `missing "${e}" in:\n${values.join('\n')}`,
    );
  // An alias satisfies a required input, and a $(macro) is accepted where only the run knows the value.
  assert.ok(!values.some((p) => p.includes('steps[1]')), values.join('\n'));
});

test('output-variable references: job and runOnce deployment-job forms resolve; wrong ones are named', () => {
  assert.deepEqual(pipelineProblems(`${FIX}/dependencies-ok.yml`), []);
  const bad = pipelineProblems(`${FIX}/dependencies-bad.yml`);
  const expect = [
    "stages[1].condition: dependencies.Build.outputs['submit.jobName']: stage 'Build' has no job 'submit'",
    "stages[1].jobs[0].variables.a: stageDependencies.Build.train.outputs['train.jobName']: job 'train' of stage 'Build' has no step named 'train' (named steps: submit)",
    "stages[1].jobs[0].variables.b: stageDependencies.Build.train.outputs['submit.runId']: step 'submit' (AmlPipelineJob@1) declares no output variable 'runId' (outputs: jobName, jobStatus, studioUrl",
    "stages[1].jobs[0].variables.c: stageDependencies.Build.trainer: stage 'Build' has no job 'trainer'",
    "stages[2].variables.u: stageDependencies.Release.rollout.outputs['deploy.scoringUri']: 'deploy.scoringUri' should be <job>.<step>.<variable> (deployment job 'rollout' with the runOnce strategy: outputs are prefixed with the job name)",
    "stages[2].variables.v: stageDependencies.Build: stage 'Report' does not depend on 'Build' (dependsOn: Release)",
  ];
  for (const e of expect)
    assert.ok(
      bad.some((p) => p.includes(e)),
      `missing "${e}" in:\n${bad.join('\n')}`,
    );
  assert.equal(bad.length, expect.length, bad.join('\n'));
});

test('the extends template refuses script, env and unlisted tasks in preSteps, and a Microsoft-hosted pool, saying why', () => {
  const problems = pipelineProblems(`${FIX}/extends-forbidden-presteps.yml`);
  // Refused when the template binds the pre-steps to the stage template's stepList parameter,
  // each with the step's index and the reason.
  assert.equal(problems.length, 1, problems.join('\n'));
  const [head, ...refused] = problems[0]!.split('\n  ');
  assert.match(head!, /^templates\/pipelines\/secure-mlops\.yml:\d+: The 'preSteps' parameter value is not a valid stepList:$/);
  assert.equal(refused.length, 3, problems[0]);
  const why = [
    "REFUSED by secure-mlops: preSteps may only run allow-listed tasks; 'script' is not allowed before the Azure ML stages",
    'REFUSED by secure-mlops: task AzureCLI@2 is not allowed in preSteps (allowed: AmlPrivateLinkCheck@1, DownloadPipelineArtifact@2, DownloadSecureFile@1)',
    "REFUSED by secure-mlops: preSteps may only run allow-listed tasks; 'env' is not allowed before the Azure ML stages",
  ];
  for (const w of why)
    assert.ok(
      refused.some((p) => p.includes(w)),
      `missing "${w}" in:\n${refused.join('\n')}`,
    );
  const hosted = pipelineProblems(`${FIX}/extends-hosted-pool.yml`);
  assert.ok(
    hosted.some((p) =>
      p.includes(
        'REFUSED by secure-mlops: pool must be a self-hosted pool in the workspace VNet (name and demands), not a Microsoft-hosted vmImage (ubuntu-latest)',
      ),
    ),
    hosted.join('\n'),
  );
});

test('template parameters are checked as Azure DevOps checks them', () => {
  const rel = 'templates/steps/pipeline-job.yml';
  const ok = { serviceConnection: 'c', resourceGroup: 'rg', workspace: 'ws', jobFile: 'f.yml' };
  const err = (given: Obj) => {
    try {
      expandTemplate(rel, given);
    } catch (e) {
      if (e instanceof TemplateError) return e.detail;
      throw e;
    }
    return assert.fail(`expected an error for ${JSON.stringify(given)}`);
  };
  assert.match(err({ ...ok, workspaceName: 'ws' }), /^Unexpected parameter 'workspaceName' \(declared: name, displayName, /);
  assert.equal(
    err({ serviceConnection: 'c', resourceGroup: 'rg', workspace: 'ws' }),
    "A value for the 'jobFile' parameter must be provided.",
  );
  assert.equal(err({ ...ok, timeoutMinutes: 'two hours' }), "The 'timeoutMinutes' parameter value 'two hours' is not a valid Number.");
  assert.equal(err({ ...ok, wait: 'maybe' }), "The 'wait' parameter value 'maybe' is not a valid Boolean.");
  assert.equal(
    err({ ...ok, serviceConnection: { name: 'c' } }),
    "The 'serviceConnection' parameter value (a mapping) is not a valid String.",
  );
  assert.throws(
    () =>
      expandTemplate('templates/steps/model-register.yml', {
        serviceConnection: 'c',
        resourceGroup: 'rg',
        workspace: 'ws',
        modelName: 'm',
        onGateFail: 'ignore',
      }),
    (e: unknown) =>
      e instanceof TemplateError &&
      e.detail === "The 'onGateFail' parameter value 'ignore' is not a valid value. Allowed values: fail, skip.",
  );
  assert.throws(
    () =>
      expandTemplate('templates/stages/train-evaluate-register-deploy.yml', {
        serviceConnection: 'c',
        resourceGroup: 'rg',
        workspace: 'ws',
        jobFile: 'f',
        modelName: 'm',
        metricGate: 'g',
        endpointName: 'e',
        computeName: 'k',
        preSteps: [{ scriptt: 'echo' }],
      }),
    (e: unknown) =>
      e instanceof TemplateError &&
      /The 'preSteps' parameter value is not a valid stepList:\n {2}steps\[0\]: matches none of the allowed forms \(a mapping here starts with 'task', 'script', /.test(
        e.detail,
      ),
  );
  // Typed values keep their type through the expression: booleans render as True/False, numbers as digits.
  const t = expandTemplate(rel, { ...ok, wait: 'false', timeoutMinutes: '30' });
  const inputs = normalize(obj(arr(t.body.steps)[0]).inputs!) as Obj;
  assert.equal(inputs.wait, 'False');
  assert.equal(inputs.timeoutMinutes, '30');
});

test('constructs the validator does not support are reported, never skipped', () => {
  assert.deepEqual(pipelineProblems(`${FIX}/unsupported-variables.yml`), [
    "test/fixtures/templates/unsupported-variables.yml:3: compile-time 'variables' are not supported by this validator: 'eq(variables['Build.SourceBranch'], 'refs/heads/main')' (use parameters, or a runtime condition)",
  ]);
  assert.deepEqual(pipelineProblems(`${FIX}/unsupported-repository.yml`), [
    "test/fixtures/templates/unsupported-repository.yml:8: template 'templates/pipelines/secure-mlops.yml@mlops-templates': no local copy of repository 'mlops-templates' to read it from (map it, e.g. --repository mlops-templates=<folder>)",
  ]);
  assert.deepEqual(pipelineProblems(`${FIX}/undeclared-repository.yml`), [
    "test/fixtures/templates/undeclared-repository.yml:3: template 'templates/pipelines/secure-mlops.yml@mlops-templates': the pipeline declares no repository 'mlops-templates' under resources.repositories",
  ]);
});

test('every conditional in templates/ was expanded both ways, and every loop ran, in the cases above', () => {
  const seen = (file: string, line: number, taken: boolean) => events.some((e) => e.file === file && e.line === line && e.taken === taken);
  const missing: string[] = [];
  for (const rel of TEMPLATES) {
    for (const d of expander.directives(abs(rel))) {
      if (d.kind === 'each' || d.kind === 'insert') {
        if (!seen(rel, d.line, true)) missing.push(`${rel}:${d.line} \${{ ${d.kind} }} never ran`);
      } else {
        if (!seen(rel, d.line, true)) missing.push(`${rel}:${d.line} \${{ ${d.kind} }} never taken`);
        if (!seen(rel, d.line, false)) missing.push(`${rel}:${d.line} \${{ ${d.kind} }} never skipped`);
      }
    }
  }
  assert.deepEqual(missing, []);
});
