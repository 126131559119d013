// What the demo runs: Bookinfo's workloads, httpbin and sleep, each a sample app process.
import { fileURLToPath } from 'node:url';

/** The package root (from dist/cli/demo/ or src/cli/demo/ alike). */
export const packageRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** The compiled sample app at `rel` under dist/samples/ (built by `npm run build`). */
export function sampleScript(rel: string): string {
  return `${packageRoot}dist/samples/${rel}`;
}

/** One workload of the demo: its app, the service it serves and its mesh identity. */
export interface DemoWorkload {
  /** Unique name, e.g. `reviews-v2`. */
  name: string;
  /** Service name and port as the mesh knows them (`reviews`, 9080). */
  service: string;
  servicePort: number;
  version: string;
  serviceAccount: string;
  /** Compiled sample script (under dist/samples/) and its extra flags and env. */
  script: string;
  args?: string[];
  env?: Record<string, string>;
}

/** Bookinfo (productpage, details, reviews v1/v2/v3, ratings), httpbin and sleep. */
export const DEMO_WORKLOADS: readonly DemoWorkload[] = [
  { name: 'details-v1', service: 'details', servicePort: 9080, version: 'v1', serviceAccount: 'bookinfo-details', script: 'bookinfo/details.js' },
  { name: 'ratings-v1', service: 'ratings', servicePort: 9080, version: 'v1', serviceAccount: 'bookinfo-ratings', script: 'bookinfo/ratings.js' },
  ...(['v1', 'v2', 'v3'] as const).map((v) => ({
    name: `reviews-${v}`, service: 'reviews', servicePort: 9080, version: v, serviceAccount: 'bookinfo-reviews',
    script: 'bookinfo/reviews.js', args: ['--service-version', v], env: { POD_NAME: `reviews-${v}-demo` },
  })),
  { name: 'productpage-v1', service: 'productpage', servicePort: 9080, version: 'v1', serviceAccount: 'bookinfo-productpage', script: 'bookinfo/productpage.js' },
  { name: 'httpbin-v1', service: 'httpbin', servicePort: 8000, version: 'v1', serviceAccount: 'httpbin', script: 'httpbin/httpbin.js' },
  { name: 'sleep', service: 'sleep', servicePort: 80, version: 'v1', serviceAccount: 'sleep', script: 'sleep/sleep.js' },
];
