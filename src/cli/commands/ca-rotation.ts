import type { RotationStatus } from '../../ca/index.js';
import { ApiClient, apiFailure, resolveTarget, type CliIO } from '../client.js';
import { clientFlags, EXIT_OK, parseFlags, UsageError } from '../command.js';
import { alignColumns } from '../printers.js';

/** Usage of `bowline ca rotation`. */
export const rotationUsage = `Usage: bowline ca rotation status [-o table|json]
       bowline ca rotation start [--trust-first]
       bowline ca rotation issue-from-new
       bowline ca rotation finish [--force]
       (all take --server URL --home DIR; the steps are admin operations: loopback or the admin token)

Replaces the mesh's generated root CA without a restart and without a failed handshake:
  start           a new root joins the trust bundle, pushed to every proxy at once, and signs
                  from now on (workloads move to it as they renew, at half-life). With
                  --trust-first the old root keeps signing until issue-from-new: use it when some
                  proxies are offline and must fetch the two-root bundle before any peer shows
                  them a new-root certificate.
  issue-from-new  after start --trust-first: the new root starts signing.
  finish          the old root leaves the bundle. Refused until every certificate the old root
                  signed has expired (status shows when: the longest workload lifetime after the
                  new root started signing); --force drops it now, and a workload still holding an
                  old-root certificate fails mTLS until it renews.
  status          the phase (steady, trusting-new, issuing-from-new), each trusted root and when
                  finish is allowed.
A CA from cacerts files or the cacerts Secret is rotated by replacing them (old and new roots in
root-cert.pem during the overlap); these steps then answer BOWLINE_E_CA_ROTATION_STATE.
`;

function printStatus(io: Pick<CliIO, 'stdout'>, s: RotationStatus, output: string | undefined): void {
  if (output === 'json') { io.stdout(JSON.stringify(s, null, 2) + '\n'); return; }
  if (output !== undefined && output !== 'table') throw new UsageError(`-o must be table or json, got "${output}"`);
  io.stdout(`phase: ${s.phase} (CA from ${s.source})${s.finishAfter ? `; finish allowed after ${s.finishAfter}` : ''}\n`);
  io.stdout(alignColumns([['ROOT', 'SHA-256', 'NOT AFTER', 'SIGNING'], ...s.roots.map((r) => [r.subject, r.fingerprint256.slice(0, 23) + '...', r.notAfter, r.signing ? 'yes' : ''])]));
}

/** Runs `bowline ca rotation ...` against a control plane; resolves to the exit code (failures throw: `bowline ca: CODE: message`). */
export async function runCaRotation(args: string[], io: Pick<CliIO, 'stdout' | 'stderr'>, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    ...clientFlags,
    output: { type: 'string', short: 'o' },
    'trust-first': { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
  });
  if (values.help) { io.stdout(rotationUsage); return EXIT_OK; }
  const [step, ...rest] = positionals;
  if (rest.length) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
  if (values['trust-first'] && step !== 'start') throw new UsageError('--trust-first goes with start');
  if (values.force && step !== 'finish') throw new UsageError('--force goes with finish');
  const client = new ApiClient(resolveTarget(values, env));
  const call = async (method: string, body?: unknown): Promise<RotationStatus> => {
    const r = await client.call(method, '/v1/ca/rotation', body);
    if (r.status < 200 || r.status > 299) throw apiFailure(r);
    return r.body as RotationStatus;
  };
  switch (step) {
    case 'status':
      printStatus(io, await call('GET'), values.output);
      return EXIT_OK;
    case 'start':
    case 'issue-from-new':
    case 'finish': {
      const s = await call('POST', { step, ...(values['trust-first'] ? { trustFirst: true } : {}), ...(values.force ? { force: true } : {}) });
      const said = step === 'start'
        ? (s.phase === 'trusting-new' ? 'a new root is trusted by every proxy; the old one still signs (next: bowline ca rotation issue-from-new)' : 'a new root is trusted and signs; workloads move to it as they renew')
        : step === 'issue-from-new' ? 'the new root signs; workloads move to it as they renew' : 'the old root left the trust bundle';
      io.stderr(`root rotation: ${said}${s.finishAfter ? `; finish allowed after ${s.finishAfter}` : ''}\n`);
      printStatus(io, s, values.output);
      return EXIT_OK;
    }
    default:
      throw new UsageError(step ? `unknown rotation step "${step}": use status, start, issue-from-new or finish` : 'missing rotation step: status, start, issue-from-new or finish');
  }
}
