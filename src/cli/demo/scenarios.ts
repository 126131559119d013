// The walkthroughs `bowline demo --scenario NAME` can apply: Istio's Bookinfo YAML, unchanged.
import path from 'node:path';
import { packageRoot } from './workloads.js';

/** Scenario name -> the samples/networking/ files it applies, in order. */
export const SCENARIOS: Readonly<Record<string, readonly string[]>> = {
  'all-v1': ['virtual-service-all-v1.yaml'],
  'reviews-v3': ['virtual-service-all-v1.yaml', 'virtual-service-reviews-v3.yaml'],
  'jason-v2-v3': ['virtual-service-all-v1.yaml', 'virtual-service-reviews-jason-v2-v3.yaml'],
  'test-v2': ['virtual-service-all-v1.yaml', 'virtual-service-reviews-test-v2.yaml'],
  'ratings-delay': ['virtual-service-all-v1.yaml', 'virtual-service-reviews-test-v2.yaml', 'virtual-service-ratings-test-delay.yaml'],
  'ratings-abort': ['virtual-service-all-v1.yaml', 'virtual-service-reviews-test-v2.yaml', 'virtual-service-ratings-test-abort.yaml'],
  'reviews-50-v3': ['virtual-service-all-v1.yaml', 'virtual-service-reviews-50-v3.yaml'],
  'details-abort': ['virtual-service-all-v1.yaml', 'virtual-service-details-abort-555.yaml'],
};

/** The absolute paths of a scenario's files, or undefined for an unknown name. */
export function scenarioFiles(name: string): string[] | undefined {
  const files = SCENARIOS[name];
  return files?.map((f) => path.join(packageRoot, 'samples', 'networking', f));
}
