// Bookinfo's reviews service, all three versions in one program: v1 shows no ratings,
// v2 asks ratings (10 s timeout) and shows black stars, v3 asks ratings (2.5 s) and shows red stars.
import os from 'node:os';
import { runApp, isMain, sendJson, requestUrl, HttpError, type Handler } from '../app/serve.js';
import { call, forwardedHeaders, serviceUrl, type Timers } from '../app/outbound.js';
import { productId } from './details.js';

/** The reviews versions and what each does about ratings. */
export const REVIEWS_VERSIONS = {
  v1: { ratings: false, color: '', timeoutMs: 0 },
  v2: { ratings: true, color: 'black', timeoutMs: 10_000 },
  v3: { ratings: true, color: 'red', timeoutMs: 2_500 },
} as const;

/** A reviews version name. */
export type ReviewsVersion = keyof typeof REVIEWS_VERSIONS;

/** The text shown when the ratings service does not answer in time. */
export const RATINGS_UNAVAILABLE = 'Ratings service is currently unavailable';

/** How a reviews instance is set up (from flags and env). */
export interface ReviewsOptions {
  version: ReviewsVersion;
  ratingsUrl: string;
  podName: string;
  clusterName: string;
  /** Overrides the version's ratings timeout (tests). */
  ratingsTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** The timers of the ratings timeout (default the process's; tests move time by hand). */
  timers?: Timers;
}

/** The two reviews every product has. */
const REVIEWS = [
  { reviewer: 'Reviewer1', text: 'Two pairs of twins and one long day of mistaken identity: a farce that still lands every joke.' },
  { reviewer: 'Reviewer2', text: 'Short, quick and silly in the best way; the confusion keeps building until the very last scene.' },
];

/** The reviews service's request handler. */
export function reviewsHandler(opts: ReviewsOptions): Handler {
  const spec = REVIEWS_VERSIONS[opts.version];
  return async (req, res) => {
    const url = requestUrl(req);
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'method not allowed');
    if (url.pathname === '/health') return sendJson(res, 200, { status: 'Reviews is healthy' });
    const m = /^\/reviews\/([^/]*)$/.exec(url.pathname);
    if (!m) throw new HttpError(404, 'not found');
    const id = productId(m[1]!);
    let ratings: Record<string, unknown> | undefined;
    if (spec.ratings) {
      const result = await call(new URL(`/ratings/${id}`, opts.ratingsUrl), {
        headers: forwardedHeaders(req, ['end-user']),
        timeoutMs: opts.ratingsTimeoutMs ?? spec.timeoutMs,
        env: opts.env,
        ...(opts.timers ? { timers: opts.timers } : {}),
      });
      if (result.ok) {
        try {
          const parsed = JSON.parse(result.reply.body.toString('utf8')) as { ratings?: Record<string, unknown> };
          ratings = parsed.ratings && typeof parsed.ratings === 'object' ? parsed.ratings : undefined;
        } catch {}
      }
    }
    const reviews = REVIEWS.map((r) => {
      if (!spec.ratings) return { ...r };
      const stars = ratings?.[r.reviewer];
      return { ...r, rating: typeof stars === 'number' ? { stars, color: spec.color } : { error: RATINGS_UNAVAILABLE } };
    });
    return sendJson(res, 200, { id: String(id), podname: opts.podName, clustername: opts.clusterName, reviews });
  };
}

/** Reads the reviews options from flags and env (SERVICE_VERSION, RATINGS_URL, POD_NAME, CLUSTER_NAME, RATINGS_TIMEOUT_MS). */
export function reviewsOptions(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): ReviewsOptions {
  const version = String(values['service-version'] ?? env.SERVICE_VERSION ?? 'v1');
  if (!(version in REVIEWS_VERSIONS)) throw new Error(`--service-version must be v1, v2 or v3, got "${version}"`);
  const timeout = env.RATINGS_TIMEOUT_MS ? Number(env.RATINGS_TIMEOUT_MS) : undefined;
  if (timeout !== undefined && !(timeout > 0)) throw new Error(`RATINGS_TIMEOUT_MS must be a positive number, got "${env.RATINGS_TIMEOUT_MS}"`);
  return {
    version: version as ReviewsVersion,
    ratingsUrl: serviceUrl('--ratings-url / RATINGS_URL', String(values['ratings-url'] ?? env.RATINGS_URL ?? 'http://ratings:9080')),
    podName: env.POD_NAME || `reviews-${version}-${os.hostname()}`,
    clusterName: env.CLUSTER_NAME || 'N/A',
    ratingsTimeoutMs: timeout,
    env,
  };
}

if (isMain(import.meta.url)) {
  void runApp({
    name: 'reviews',
    defaultPort: 9080,
    usage: '[--service-version v1|v2|v3] [--ratings-url URL]',
    options: { 'service-version': { type: 'string' }, 'ratings-url': { type: 'string' } },
    create: (values) => reviewsHandler(reviewsOptions(values)),
  });
}
