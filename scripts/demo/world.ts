/**
 * The emulated Azure + Azure DevOps world the rehearsal runs in (testkit/emulator), seeded from the
 * pipeline itself so the example's names work as written:
 *  - the default seed (tenant, service principals, the contoso/mlops project whose main branch has
 *    a blocking 2-reviewer policy, a CI run of main);
 *  - each workspace the tasks name (resource group, workspace), private (public network access
 *    disabled), with private endpoints for it and its storage, Key Vault and registry, and DNS
 *    answers that are right (the public names CNAME into privatelink zones that answer the
 *    endpoints' IPs); cpu-cluster, the environments the example uses, the data assets its job file
 *    reads, and each Kubernetes (AKS) compute the deploy step names;
 *  - each service connection name the pipeline uses, as a workload identity federation connection
 *    of the pipeline's service principal (Contributor on the workspace's resource group), with a
 *    "Branch control" check;
 *  - production today: version 1 of the model the register step names (registered by an earlier
 *    run, with its gated metrics recorded as tags, so compareWith has a champion to beat), served
 *    at 100% by a deployment on the endpoint the deploy step names, so the rollout is blue/green;
 *  - for the feature-branch variant, a pushed feature branch without policies.
 * It also plays Azure ML's side of the run: the job the train step submits logs the variant's
 * metrics and writes an MLflow model, and the deployed model answers the smoke request.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { DnsServer } from '../../testkit/emulator/dns-server';
import { seedConnection, seedJob, startEmulator, type Emulator, type SeedResult } from '../../testkit/emulator/index';
import type { ServicePrincipal } from '../../testkit/emulator/entra';
import type { PrivateName } from '../../testkit/emulator/network';
import type { Endpoint } from '../../testkit/harness';
import { answerPrivately } from '../../testkit/world';
import { parseMetricGate } from '../../tasks/AmlModelRegister/gate-expr';
import type { PipelinePlan } from './plan';
import { taskSteps } from './plan';
import { AZURE_DNS, setupSandboxNetwork, type SandboxNetwork } from './sandbox';
import { FEATURE_BRANCH, type Variant } from './variants';

export interface SeededWorkspace {
  resourceGroup: string;
  name: string;
  id: string;
  names: PrivateName[];
  computes: string[];
  data: string[];
}

export interface SeededConnection {
  name: string;
  id: string;
  scheme: string;
  endpoint: Endpoint;
  /** Registered for the rehearsal under the pipeline's name (not one of the default seed's). */
  registered: boolean;
}

export interface AgentJob {
  variables: Record<string, string>;
  endpoints: Record<string, Endpoint>;
  env: Record<string, string>;
}

export interface DemoWorld {
  emu: Emulator;
  seed: SeedResult;
  dns: DnsServer;
  /** Runs in the private network namespace (agent resolver + TCP 443 as in the VNet). */
  sandbox: boolean;
  workspaces: SeededWorkspace[];
  connections: Map<string, SeededConnection>;
  branch: { ref: string; commit: string; policy: string };
  /** What production serves before the run: the model version and its deployment (blue/green baseline). */
  /** The latest registered version in each workspace the pipeline registers in (what compareWith: latest meets there). */
  champions: Array<{ workspaceId: string; model: string; version: string; metrics: Record<string, number> }>;
  production: Array<{
    workspaceId: string;
    endpoint: string;
    deployment: string;
    model: string;
    version: string;
    metrics: Record<string, number>;
    /** Two workspaces: the registry production deploys from. */ registryId?: string;
  }>;
  /** What a new agent job gets: a fresh job token, System.* and Build.* variables, endpoints. */
  agentJob(): AgentJob;
  /** Azure ML job names the world has seen submitted, in order. */
  submittedJobs: string[];
  close(): Promise<void>;
}

/** The metrics of the model production serves before the run (the champion the gate compares with). */
const PRODUCTION_METRICS: Record<string, number> = {
  'train.auc': 0.87,
  'train.rmse': 0.36,
  'evaluate.test_auc': 0.86,
  'evaluate.test_rmse': 0.38,
};

/** The metric keys a gate names, as AmlModelRegister@1 reads it (an unreadable gate names none). */
function gateKeys(text: string | undefined): string[] {
  try {
    return parseMetricGate(text).map((c) => c.key);
  } catch {
    return [];
  }
}

const DEPLOYMENT_TYPE = 'microsoft.machinelearningservices/workspaces/onlineendpoints/deployments';

/** A tiny MLflow model: the MLmodel file and what an MLflow no-code deployment would load. */
const MLMODEL = [
  'artifact_path: model',
  'flavors:',
  '  python_function:',
  '    env:',
  '      conda: conda.yaml',
  '    loader_module: mlflow.sklearn',
  '    model_path: model.pkl',
  '    python_version: 3.11.9',
  '  sklearn:',
  '    pickled_model: model.pkl',
  '    serialization_format: cloudpickle',
  '    sklearn_version: 1.5.2',
  'mlflow_version: 2.16.2',
  'signature:',
  '  inputs: \'[{"type": "double", "name": "distance_km"}, {"type": "long", "name": "passengers"}, {"type": "long", "name": "pickup_hour"}, {"type": "long", "name": "weekday"}]\'',
  '  outputs: \'[{"type": "long"}]\'',
  '',
].join('\n');

/** What the emulated MLflow scoring server answers: one predicted class per input row. */
function predict(body: unknown): unknown[] {
  const data = (body as { input_data?: { data?: unknown } } | undefined)?.input_data?.data;
  const rows = Array.isArray(data) ? data : [];
  return rows.map((r) => (Array.isArray(r) && Number(r[0]) > 2 ? 1 : 0));
}

function str(v: string | undefined): string | undefined {
  return v && !v.includes('$(') ? v : undefined;
}

export async function startDemoWorld(o: { plan: PipelinePlan; variant: Variant; sandbox: boolean; repoRoot: string }): Promise<DemoWorld> {
  const emu = await startEmulator();
  const seed = emu.seedDefault();
  const S = seed;
  const org = S.ado.org;
  const project = S.ado.project;
  const fedSp = emu.entra.findIdentity(S.tenantId, S.servicePrincipals.federated.clientId) as ServicePrincipal;

  // Timing of the emulated Azure ML job and online endpoint operations: short, but long enough
  // for the tasks to show the statuses they pass through.
  emu.aml.scriptJobs({ startDelayMs: 400, stepDurationMs: 1200, phaseMs: 150 });
  emu.online.script({ endpointMs: 300, deploymentMs: 900, deleteMs: 200, retryAfterSeconds: 0 });

  // --- service connections, by the names the pipeline uses ------------------------------------
  const connections = new Map<string, SeededConnection>();
  // Only the identities of the connections the pipeline names get Contributor: the access audit
  // of AmlPrivateLinkCheck then finds no other writer, as in a production workspace set up right.
  const pipelineIdentities = new Set<string>();
  const principalOf: Record<string, string> = {
    wif: S.servicePrincipals.federated.objectId,
    secret: S.servicePrincipals.secret.objectId,
    certificate: S.servicePrincipals.certificate.objectId,
    managedIdentity: S.managedIdentities.system.objectId,
  };
  const seededKinds = (['wif', 'secret', 'certificate', 'managedIdentity'] as const).map((k) => ({
    kind: k,
    ...S.ado.serviceConnections[k],
  }));
  const steps = taskSteps(o.plan);
  for (const { step } of steps) {
    const name = str(step.inputs.azureSubscription ?? step.inputs.azureResourceManagerConnection);
    if (!name || connections.has(name.toLowerCase())) continue;
    const known = seededKinds.find((k) => k.name.toLowerCase() === name.toLowerCase() || k.id === name.toLowerCase());
    if (known) {
      pipelineIdentities.add(principalOf[known.kind]!);
      const sc = seedConnection(S, known.kind);
      connections.set(name.toLowerCase(), { name: sc.name, id: sc.id, scheme: sc.scheme, endpoint: sc.endpoint, registered: false });
      continue;
    }
    // A workload identity federation connection named as in the pipeline, trusted by the pipeline's SP.
    const sc = emu.ado.addServiceConnection({ org, project, name });
    const subject = emu.ado.subject(org, project, name);
    emu.entra.addFederatedCredential(fedSp, { name: `ado-${name}`, issuer: emu.ado.issuer(org), subject });
    emu.ado.addCheck({
      org,
      project,
      resourceType: 'endpoint',
      resourceId: sc.id,
      type: 'branchControl',
      settings: { allowedBranches: 'refs/heads/main', ensureProtectionOfBranch: true },
    });
    const base = seedConnection(S, 'wif');
    pipelineIdentities.add(S.servicePrincipals.federated.objectId);
    const endpoint: Endpoint = {
      ...base.endpoint,
      parameters: { ...base.endpoint.parameters, workloadIdentityFederationSubject: subject },
    };
    connections.set(name.toLowerCase(), { name, id: sc.id, scheme: base.scheme, endpoint, registered: true });
  }

  // GitHub connections the pipeline names (githubConnection): personal-access-token connections to
  // the emulator's GitHub Enterprise API. The rehearsed repository is in Azure Repos, so the gate
  // does not read them; they exist so that a pipeline written for GitHub runs here unchanged.
  for (const { step } of steps) {
    const name = str(step.inputs.githubConnection);
    if (!name || connections.has(name.toLowerCase())) continue;
    const token = `ghp_${randomBytes(18).toString('hex')}`;
    emu.addSecret(token);
    emu.github.addToken(token);
    const sc = emu.ado.addServiceConnection({ org, project, name, type: 'github' });
    connections.set(name.toLowerCase(), {
      name,
      id: sc.id,
      scheme: 'PersonalAccessToken',
      endpoint: { url: `${emu.url}/`, scheme: 'PersonalAccessToken', parameters: { accessToken: token } },
      registered: true,
    });
  }

  // The seeded workspace starts with one Contributor per auth scheme; keep only the pipeline's.
  for (const p of [
    S.servicePrincipals.federated,
    S.servicePrincipals.secret,
    S.servicePrincipals.certificate,
    S.managedIdentities.system,
    S.managedIdentities.user,
  ]) {
    if (!pipelineIdentities.has(p.objectId)) emu.arm.rbac.revoke(p.objectId, 'Contributor');
  }

  // --- workspaces, computes and data the tasks name ----------------------------------------------
  const workspaces: SeededWorkspace[] = [];
  let subnet = 1;
  const workspaceFor = (rg: string, name: string): SeededWorkspace => {
    let w = workspaces.find((x) => x.resourceGroup.toLowerCase() === rg.toLowerCase() && x.name.toLowerCase() === name.toLowerCase());
    if (w) return w;
    const id = `/subscriptions/${S.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.MachineLearningServices/workspaces/${name}`;
    if (!emu.arm.resources.get(id)) {
      // Stable ids (the workspace GUID is in its private-link names): the same names on every run.
      const h = createHash('sha1').update(`${S.subscriptionId}/${rg}/${name}`.toLowerCase()).digest('hex');
      const guid = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
      const pe = `pe-${name}`;
      // The region its name says (mlw-prod-weu: West Europe), where the emulator knows it.
      const suffix = /-(weu|neu|eus2|eus|wus2)$/i.exec(name)?.[1]?.toLowerCase();
      const location =
        ({ weu: 'westeurope', neu: 'northeurope', eus: 'eastus', eus2: 'eastus2', wus2: 'westus2' } as Record<string, string>)[
          suffix ?? ''
        ] ?? S.location;
      emu.arm.addWorkspace({
        subscriptionId: S.subscriptionId,
        resourceGroup: rg,
        name,
        location,
        publicNetworkAccess: 'Disabled',
        workspaceId: guid,
        privateEndpointConnections: [{ name: `${pe}.${guid}`, privateEndpointName: pe, status: 'Approved' }],
      });
      const rgId = emu.arm.resourceGroupId(S.subscriptionId, rg);
      for (const id of pipelineIdentities) emu.arm.grantRole(id, 'Contributor', rgId);
      emu.arm.grantRole(S.servicePrincipals.reader.objectId, 'Reader', id);
      emu.aml.seedWorkspace(id);
    }
    const names = emu.arm.addPrivateNetwork(id, { subnetPrefix: `10.10.${subnet++}.` });
    w = { resourceGroup: rg, name, id, names, computes: ['cpu-cluster', 'gpu-cluster'], data: [] };
    workspaces.push(w);
    return w;
  };
  for (const { step } of steps) {
    const rg = str(step.inputs.resourceGroupName);
    const wsName = str(step.inputs.workspaceName);
    if (!rg || !wsName) continue;
    const w = workspaceFor(rg, wsName);
    const task = step.task.split('@')[0];
    const compute = str(step.inputs.computeName);
    if (task === 'AmlAksDeploy' && compute && !w.computes.includes(compute)) {
      if (!emu.arm.resources.get(`${w.id}/computes/${compute}`))
        emu.aml.addCompute(w.id, compute, { computeType: 'Kubernetes', namespace: 'azureml' });
      w.computes.push(compute);
    }
    const jobFile = str(step.inputs.jobFile);
    if (task === 'AmlPipelineJob' && jobFile && fs.existsSync(path.resolve(o.repoRoot, jobFile))) {
      // Registered data assets the job reads (azureml:<name>:<version>), in the default datastore.
      const job = parse(fs.readFileSync(path.resolve(o.repoRoot, jobFile), 'utf8')) as { inputs?: Record<string, unknown> } | null;
      for (const v of Object.values(job?.inputs ?? {})) {
        const ref = typeof v === 'object' && v !== null ? (v as { path?: unknown }).path : undefined;
        const m = typeof ref === 'string' ? /^azureml:([A-Za-z0-9][\w.-]*):(\d+)$/.exec(ref) : null;
        if (!m || w.data.includes(`${m[1]}:${m[2]}`)) continue;
        emu.aml.addData(w.id, m[1]!, m[2]!, `azureml://datastores/workspaceblobstore/paths/${m[1]}/`);
        w.data.push(`${m[1]}:${m[2]}`);
      }
    }
  }

  // --- production today: the champion model version and the deployment serving it ----------------
  const production: DemoWorld['production'] = [];
  const champions: DemoWorld['champions'] = [];
  // --- registries the steps name (two workspaces): private, in every workspace's region, shared into
  // from each workspace's storage (the documented resource instance rule); the pipeline's identities
  // are AzureML Registry User on it. Production's champion lives in the registry and the production
  // endpoint serves it from there.
  const registryIds = new Map<string, string>();
  const registryNames: PrivateName[] = [];
  for (const { step } of steps) {
    const reg = str(step.inputs.registryName);
    if (!reg || registryIds.has(reg.toLowerCase())) continue;
    const regions = [...new Set(workspaces.map((w) => String(emu.arm.resources.get(w.id)?.body.location ?? S.location)))];
    const body = emu.registries.add({
      subscriptionId: S.subscriptionId,
      resourceGroup: str(step.inputs.registryResourceGroup) ?? S.resourceGroup,
      name: reg,
      ...(regions[0] ? { location: regions[0] } : {}),
      regions,
      publicNetworkAccess: 'Disabled',
    });
    const id = String(body.id);
    registryIds.set(reg.toLowerCase(), id);
    for (const pid of pipelineIdentities) emu.arm.grantRole(pid, 'AzureML Registry User', id);
    for (const w of workspaces) emu.registries.allowSharingFrom(w.id, id);
    const names = emu.registries.addPrivateNetwork(id, { subnetPrefix: `10.10.${subnet++}.` });
    registryNames.push(...names);
  }
  for (const { step } of steps) {
    const registryId = registryIds.get(str(step.inputs.registryName)?.toLowerCase() ?? '');
    const model = str(step.inputs.modelName);
    if (step.task.split('@')[0] !== 'AmlModelRegister' || !registryId || !model || emu.registries.versions(registryId, model).length)
      continue;
    const championMetrics = o.variant.registryChampion ?? PRODUCTION_METRICS;
    const gated = gateKeys(step.inputs.metricGate).filter((k) => championMetrics[k] !== undefined);
    const metrics = Object.fromEntries(gated.map((k) => [k, championMetrics[k]!]));
    emu.registries.addVersion(registryId, model, '1', {
      modelType: str(step.inputs.modelType) ?? 'mlflow_model',
      description: 'Promoted by run 4650 of mlops-train (main).',
      tags: {
        stage: 'production',
        'ado.pipeline': 'mlops-train',
        'ado.runId': '4650',
        'ado.branch': 'refs/heads/main',
        'ado.commit': '2'.repeat(40),
        ...Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`metric.${k}`, String(v)])),
      },
    });
    const deployStep = steps.find((x) => x.step.task.split('@')[0] === 'AmlAksDeploy')?.step;
    const target = workspaces.find(
      (x) => x.resourceGroup === str(deployStep?.inputs.resourceGroupName) && x.name === str(deployStep?.inputs.workspaceName),
    );
    const endpoint = str(deployStep?.inputs.endpointName);
    const compute = str(deployStep?.inputs.computeName);
    if (!target || !endpoint || !compute || emu.online.endpoint(endpoint)) continue;
    const deployment = `${model}-v1`.slice(0, 32);
    emu.online.addEndpoint(target.id, endpoint, {
      compute,
      authMode: 'Key',
      deployments: [
        { name: deployment, model: `azureml://registries/${registryId.split('/').pop()}/models/${model}/versions/1`, traffic: 100 },
      ],
    });
    production.push({ workspaceId: target.id, endpoint, deployment, model, version: '1', metrics, registryId });
  }
  for (const { step } of steps) {
    if (step.task.split('@')[0] !== 'AmlModelRegister' || str(step.inputs.registryName)) continue;
    const w = workspaces.find((x) => x.resourceGroup === str(step.inputs.resourceGroupName) && x.name === str(step.inputs.workspaceName));
    const model = str(step.inputs.modelName);
    if (!w || !model || emu.models.versions(w.id, model).length) continue;
    const gated = gateKeys(step.inputs.metricGate).filter((k) => PRODUCTION_METRICS[k] !== undefined);
    const metrics = Object.fromEntries(gated.map((k) => [k, PRODUCTION_METRICS[k]!]));
    emu.models.add(w.id, model, '1', {
      modelType: str(step.inputs.modelType) ?? 'mlflow_model',
      description: 'Registered by run 4650 of mlops-train (main).',
      tags: {
        stage: 'production',
        'ado.pipeline': 'mlops-train',
        'ado.runId': '4650',
        'ado.branch': 'refs/heads/main',
        'ado.commit': '2'.repeat(40),
        ...Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`metric.${k}`, String(v)])),
      },
    });
    champions.push({ workspaceId: w.id, model, version: '1', metrics });
    const deploy = steps.find((x) => x.step.task.split('@')[0] === 'AmlAksDeploy' && str(x.step.inputs.workspaceName) === w.name)?.step;
    const endpoint = str(deploy?.inputs.endpointName);
    const compute = str(deploy?.inputs.computeName);
    if (!endpoint || !compute || emu.online.endpoint(endpoint)) continue;
    const deployment = `${model}-v1`.slice(0, 32);
    emu.online.addEndpoint(w.id, endpoint, {
      compute,
      authMode: 'Key',
      deployments: [{ name: deployment, model: `${w.id}/models/${model}/versions/1`, traffic: 100 }],
    });
    production.push({ workspaceId: w.id, endpoint, deployment, model, version: '1', metrics });
  }

  // --- the branch the run builds ----------------------------------------------------------------
  let branch: DemoWorld['branch'];
  if (o.variant.branch === 'refs/heads/main') {
    branch = {
      ref: 'refs/heads/main',
      commit: S.ado.repository.mainHead,
      policy: 'blocking "Minimum number of reviewers" policy (2 approvers, requestors cannot approve their own changes)',
    };
  } else {
    const commit = emu.ado.pushCommits(S.ado.repository.id, FEATURE_BRANCH, ['4'.repeat(40)], S.ado.repository.mainHead);
    branch = { ref: FEATURE_BRANCH, commit, policy: 'no branch policies' };
  }

  // --- DNS: right answers for every private name ------------------------------------------------
  const allNames = [...workspaces.flatMap((w) => w.names), ...registryNames];
  let net: SandboxNetwork | undefined;
  let dns: DnsServer;
  if (o.sandbox) {
    net = await setupSandboxNetwork(allNames.map((n) => n.ip));
    dns = await new DnsServer().start(AZURE_DNS, 53);
  } else {
    dns = await new DnsServer().start();
  }
  answerPrivately(dns, allNames);

  // --- Azure ML's side of the run ------------------------------------------------------------------
  const submittedJobs: string[] = [];
  const scored = new Set<string>();
  const play = () => {
    for (const [name, job] of emu.aml.engine.jobs) {
      if (submittedJobs.includes(name)) continue;
      submittedJobs.push(name);
      for (const s of job.steps) {
        const m = o.variant.metrics[s.name];
        if (m) emu.aml.setMetrics(name, s.name, m);
      }
      const stepNames = job.steps.map((s) => s.name);
      if (stepNames.includes('train'))
        emu.aml.setOutputs(name, 'train', {
          model_output: {
            files: {
              MLmodel: MLMODEL,
              'model.pkl': 'rehearsal model bytes',
              'conda.yaml': 'dependencies:\n  - python=3.11\n  - pip:\n    - mlflow==2.16.2\n    - scikit-learn==1.5.2\n',
              'requirements.txt': 'mlflow==2.16.2\nscikit-learn==1.5.2\n',
            },
          },
        });
      if (stepNames.includes('evaluate'))
        emu.aml.setOutputs(name, 'evaluate', {
          evaluation_report: { files: { 'report.json': JSON.stringify(o.variant.metrics.evaluate ?? {}) } },
        });
    }
    for (const r of emu.arm.resources.all()) {
      if (String(r.body.type).toLowerCase() !== DEPLOYMENT_TYPE) continue;
      const d = String(r.body.name);
      if (scored.has(d.toLowerCase())) continue;
      scored.add(d.toLowerCase());
      emu.online.scoring(d, (q) =>
        q.body && typeof q.body === 'object'
          ? { status: 200, body: predict(q.body) }
          : { status: 400, body: { message: 'Expected a JSON body with input_data.' } },
      );
    }
  };
  const timer = setInterval(play, 15);

  const agentJob = (): AgentJob => {
    const token = emu.ado.issueJobToken({ project });
    const j = seedJob(S, emu.ado, token, emu.caFile);
    const endpoints: Record<string, Endpoint> = { ...j.endpoints };
    for (const c of connections.values()) endpoints[c.id] = c.endpoint;
    return {
      variables: {
        ...j.variables,
        'Build.SourceBranch': branch.ref,
        'Build.SourceBranchName': branch.ref.split('/').pop()!,
        'Build.SourceVersion': branch.commit,
        'Build.BuildNumber': '20250611.3',
        'System.DefinitionName': j.variables['Build.DefinitionName']!,
      },
      endpoints,
      env: j.env,
    };
  };

  return {
    emu,
    seed,
    dns,
    sandbox: o.sandbox,
    workspaces,
    champions,
    connections,
    branch,
    production,
    agentJob,
    submittedJobs,
    async close() {
      clearInterval(timer);
      await dns.stop();
      await net?.close();
      await emu.close();
    },
  };
}
