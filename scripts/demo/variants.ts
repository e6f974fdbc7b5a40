/**
 * What each rehearsal plays: the branch the run is on, what the Azure ML job logs, and where the
 * run must end for the rehearsal to count as behaving as expected.
 */
export type VariantName = 'green' | 'feature-branch' | 'bad-model' | 'promotion-refused';
export const VARIANTS: VariantName[] = ['green', 'feature-branch', 'bad-model', 'promotion-refused'];
export const FAILING_VARIANTS: VariantName[] = ['feature-branch', 'bad-model', 'promotion-refused'];

export interface Variant {
  name: VariantName;
  title: string;
  /** The ref the CI run builds. */
  branch: string;
  /** Metrics each step of the Azure ML job logs, per MLflow run (last value counts). */
  metrics: Record<string, Record<string, number[]>>;
  /** Metrics of the registry's champion when better than the default production ones (two workspaces). */
  registryChampion?: Record<string, number>;
  /** The outcome the rehearsal checks at the end, in words. */
  expectation: string;
}

export const FEATURE_BRANCH = 'refs/heads/feature/faster-training';

export function variant(name: VariantName): Variant {
  switch (name) {
    case 'green':
      return {
        name,
        title: 'CI run of main, a model that passes the gate',
        branch: 'refs/heads/main',
        metrics: { train: { auc: [0.84, 0.89, 0.91], rmse: [0.42, 0.35, 0.31] }, evaluate: { test_auc: [0.9], test_rmse: [0.33] } },
        expectation:
          'every stage succeeds: the job completes, the gate passes, the model is registered and rolled out to 100%, the scoring route answers',
      };
    case 'feature-branch':
      return {
        name,
        title: 'CI run of a feature branch (no review policy, not a protected branch)',
        branch: FEATURE_BRANCH,
        metrics: { train: { auc: [0.91], rmse: [0.31] } },
        expectation:
          'the protected-branch gate refuses the run at its first use of the production connection, NetworkCheck › privateLink (AmlPrivateLinkCheck@1), before anything touches Azure: nothing is submitted, Train, Evaluate and Deploy are skipped',
      };
    case 'bad-model':
      return {
        name,
        title: 'CI run of main, a model below the gate',
        branch: 'refs/heads/main',
        metrics: { train: { auc: [0.64, 0.7, 0.72], rmse: [0.61, 0.55, 0.52] }, evaluate: { test_auc: [0.71], test_rmse: [0.54] } },
        expectation:
          'the job completes, the metric gate at Evaluate › register says no: registered=false (succeeded with issues), the Deploy stage is skipped (its condition is false) and no endpoint is touched',
      };
    case 'promotion-refused':
      return {
        name,
        title: "CI run of main, a model better than development's champion but not the registry's (two workspaces)",
        branch: 'refs/heads/main',
        metrics: { train: { auc: [0.84, 0.89, 0.91], rmse: [0.42, 0.35, 0.31] }, evaluate: { test_auc: [0.9], test_rmse: [0.33] } },
        registryChampion: { 'train.auc': 0.94, 'train.rmse': 0.27, 'evaluate.test_auc': 0.93, 'evaluate.test_rmse': 0.29 },
        expectation:
          "the model is registered in development, then the metric gate at Promote › promote compares it with the registry's champion and says no: promote.registered=false (succeeded with issues), nothing is added to the registry, the Deploy stage is skipped and production is not touched",
      };
  }
}
