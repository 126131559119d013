// `bowline demo [--port 8080] [--home DIR] [--scenario NAME] [--no-mesh] [--multicluster]`: Bookinfo (or the
// multi-cluster postcard) on this machine in one command.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXIT_INVALID, EXIT_OK, parseFlags, UsageError, type Command } from '../command.js';
import { meshGaps } from '../demo/capabilities.js';
import { Progress, seconds } from '../demo/progress.js';
import { portProblem } from '../demo/ports.js';
import { startDemo, demoLogDir, type DemoRunning } from '../demo/run.js';
import { Supervisor } from '../demo/supervisor.js';
import { DEMO_WORKLOADS, packageRoot, sampleScript } from '../demo/workloads.js';
import { captureGaps, createDemoNetwork, defaultPrefix, removeDemoNetwork, validPrefix, verifyDemoNetwork, type DemoNetwork } from '../demo/netns.js';
import { loadOriginalDst } from '../../proxy/capture/original-dst.js';
import { scenarioFiles, SCENARIOS } from '../demo/scenarios.js';
import { startMulticlusterDemo, type MulticlusterRunning } from '../demo/multicluster.js';

const USAGE = `Usage: bowline demo [--port 8080] [--home DIR] [--scenario NAME] [--no-mesh] [--capture [--netns-prefix P]]
       bowline demo --multicluster [--port 8080] [--home DIR]

Starts the control plane, Bookinfo (productpage, details, reviews v1/v2/v3, ratings), httpbin
and sleep, each with its sidecar, and an ingress gateway serving http://localhost:PORT/productpage.
Ctrl-C stops everything (a second Ctrl-C forces) and removes the temporary home.

  --port N         port of the product page (the Gateway's port 80), default 8080
  --home DIR       keep the store and logs in DIR (kept after exit); default a temporary directory
  --scenario NAME  apply one walkthrough once up: ${Object.keys(SCENARIOS).join(', ')}
  --no-mesh        run the apps wired directly, without control plane or proxies
  --capture        (Linux, root) each workload in its own network namespace on a bridge the demo
                   creates, like pods: transparent capture installed in each, apps call plain service
                   names (the sidecar's DNS proxy answers) with no proxy settings. Namespaces, bridge
                   and rules are removed on exit (docs/demo.md)
  --netns-prefix P prefix of the namespaces (P-WORKLOAD), bridge (Pbr) and veths (PhN); default bl + the
                   pid in base 36, so parallel demos do not collide
  --multicluster   instead of Bookinfo, the postcard sample over two clusters on this machine: cluster-1
                   (network-1: greeter, ingress gateway) and cluster-2 (network-2: messenger), each with
                   its control plane (one shared root), its east-west gateway, and the other cluster
                   added with bowline cluster add; prints the postcard URL (http://localhost:PORT/greeter)
                   whose message comes from messenger in cluster-2 (docs/multicluster.md)
`;

/** The `demo` command. */
export const command: Command = {
  name: 'demo',
  summary: 'Run Bookinfo, httpbin and sleep with sidecars and a gateway on localhost:8080',
  async run(args) {
    const t0 = performance.now();
    const { values } = parseFlags(args, { port: { type: 'string' }, home: { type: 'string' }, scenario: { type: 'string' }, 'no-mesh': { type: 'boolean' }, capture: { type: 'boolean' }, 'netns-prefix': { type: 'string' }, multicluster: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, { allowPositionals: false });
    if (values.help) { process.stdout.write(USAGE); return EXIT_OK; }
    const port = Number(values.port ?? 8080);
    if (!/^\d+$/.test(values.port ?? '8080') || port < 1 || port > 65535) throw new UsageError(`--port must be 1-65535, got "${values.port}"`);
    const mesh = !values['no-mesh'];
    let files: string[] | undefined;
    if (values.scenario !== undefined) {
      if (!mesh) throw new UsageError('--scenario needs the mesh (drop --no-mesh)');
      files = scenarioFiles(values.scenario);
      if (!files) throw new UsageError(`unknown scenario "${values.scenario}"; choose one of: ${Object.keys(SCENARIOS).join(', ')}`);
    }
    const err = (s: string) => process.stderr.write(s + '\n');
    const capture = values.capture === true;
    const prefix = values['netns-prefix'] ?? defaultPrefix();
    if (capture && !mesh) throw new UsageError('--capture needs the mesh (drop --no-mesh)');
    if (values['netns-prefix'] !== undefined && !capture) throw new UsageError('--netns-prefix goes with --capture');
    const multicluster = values.multicluster === true;
    if (multicluster && (!mesh || capture || values.scenario !== undefined)) throw new UsageError('--multicluster runs the postcard sample with the mesh: drop --no-mesh, --capture and --scenario');
    if (!validPrefix(prefix)) throw new UsageError(`--netns-prefix must be 1-8 lowercase letters or digits starting with a letter (interface names are at most 15 bytes), got "${prefix}"`);
    if (capture) {
      const addon = loadOriginalDst();
      const missing = [...captureGaps(), ...('missing' in addon ? [addon.missing] : [])];
      if (missing.length) {
        err(`bowline demo --capture: this host lacks ${missing.join('; ')} [BOWLINE_E_DEMO_CAPTURE_PREREQ]; nothing was changed`);
        err('  the demo without capture (apps use their sidecar as HTTP_PROXY) needs none of this: bowline demo');
        return EXIT_INVALID;
      }
    }

    const problem = (await portProblem(port, '127.0.0.1')) ?? (await portProblem(port, '0.0.0.0'));
    if (problem) {
      err(`bowline demo: port ${port} is not available (${problem === 'EADDRINUSE' ? 'another program is listening on it' : problem}) [BOWLINE_E_DEMO_PORT_TAKEN]`);
      err(`  choose another port with --port, e.g.: bowline demo --port ${port === 8080 ? 8081 : port + 1}`);
      return EXIT_INVALID;
    }
    const firstSample = sampleScript(multicluster ? 'postcard/greeter.js' : 'bookinfo/productpage.js');
    if (!existsSync(firstSample)) {
      err(`bowline demo: the sample apps are not built (${firstSample} is missing); run \`npm run build\` in ${packageRoot} [BOWLINE_E_DEMO_NOT_BUILT]`);
      return EXIT_INVALID;
    }
    const gaps = mesh ? meshGaps() : [];
    if (gaps.length) {
      err(`bowline demo: this build lacks what the mesh demo needs: ${gaps.join(', ')} [BOWLINE_E_DEMO_MESH_MISSING]`);
      err('  run the apps without the mesh with: bowline demo --no-mesh');
      return EXIT_INVALID;
    }

    const temporary = values.home === undefined;
    const home = temporary ? mkdtempSync(path.join(os.tmpdir(), 'bowline-demo-')) : path.resolve(values.home!);
    const progress = new Progress();
    progress.line(`Starting the ${multicluster ? 'multi-cluster postcard' : 'Bookinfo'} demo${mesh ? '' : ' without the mesh'} (home ${home}${temporary ? ', removed on exit' : ''})`);

    mkdirSync(demoLogDir(home), { recursive: true });
    const supervisor = new Supervisor(demoLogDir(home), (m, code, signal) => err(
      `\n  \u2718 ${m.spec.name} exited (${signal ?? `code ${code}`}) [BOWLINE_E_DEMO_WORKLOAD_DIED]; its log: ${m.logPath}\n    the other processes keep running; Ctrl-C stops the demo`));
    let interrupts = 0;
    let resolveDone!: (code: number) => void;
    const done = new Promise<number>((r) => { resolveDone = r; });
    let network: DemoNetwork | undefined;
    const removeNetwork = () => {
      if (!network) return;
      const left = removeDemoNetwork(network);
      network = undefined;
      for (const l of left) err(`bowline demo: could not remove ${l} [BOWLINE_E_DEMO_CAPTURE_CLEANUP]`);
    };
    // A crash still removes the namespaces, bridge and rules (processes are gone or going with the demo).
    process.once('exit', removeNetwork);
    const cleanup = () => { removeNetwork(); if (temporary) rmSync(home, { recursive: true, force: true }); };
    const onSignal = () => {
      interrupts++;
      if (interrupts === 1) {
        process.stdout.write('\nStopping the demo (Ctrl-C again to force)...\n');
        void supervisor.stopAll().then(() => { cleanup(); process.stdout.write('Stopped.\n'); resolveDone(EXIT_OK); });
      } else {
        supervisor.forceAll();
        cleanup();
        process.stdout.write('Forced stop.\n');
        process.exit(130);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    let running: DemoRunning | undefined;
    let postcard: MulticlusterRunning | undefined;
    try {
      if (capture) {
        await progress.step(`network namespaces ${prefix}-* on bridge ${prefix}br, every address checked to route over it`, async () => {
          network = createDemoNetwork(prefix, DEMO_WORKLOADS.map((w) => w.name));
          verifyDemoNetwork(network);
        });
      }
      if (multicluster) postcard = await startMulticlusterDemo({ port, home, progress, supervisor });
      else running = await startDemo({ port, home, mesh, scenarioFiles: files, progress, supervisor, ...(network ? { network } : {}) });
    } catch (e) {
      if (interrupts > 0) return done;
      err(`\nbowline demo: could not start: ${(e as Error).message} [BOWLINE_E_DEMO_START_FAILED]`);
      await supervisor.stopAll();
      removeNetwork();
      err(`  logs kept in ${demoLogDir(home)}`);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      return EXIT_INVALID;
    }
    if (interrupts > 0) return done;
    if (postcard) {
      printPostcard(progress, postcard, t0);
      return done;
    }
    if (!running) return done;

    progress.line('');
    progress.line(`Bookinfo is up in ${seconds(performance.now() - t0)}: open ${running.productPageUrl}`);
    progress.line(`Logs: ${running.logDir}`);
    if (mesh) {
      const server = `--server ${running.apiUrl}`;
      const net = path.join(packageRoot, 'samples', 'networking');
      // `bowline` is on PATH only when installed globally: name a command that works from here.
      const cli = path.resolve(process.cwd()) === path.resolve(packageRoot) ? 'npx bowline' : path.join(packageRoot, 'bin', 'bowline');
      progress.line(`Dashboard: ${running.apiUrl}/ui/   (live service graph, traffic per version, config, mTLS check, proxies)`);
      progress.line('');
      if (running.network) {
        const sleepNs = running.network.namespaces['sleep']!.name;
        progress.line(`Network: bridge ${running.network.bridge} ${running.network.subnet}; each workload in namespace ${running.network.prefix}-NAME, captured, no proxy settings`);
        progress.line(`  ip netns exec ${sleepNs} curl -s http://httpbin:8000/headers     # a plain name, resolved by the sidecar's DNS proxy`);
      }
      progress.line('Try next (in another terminal):');
      progress.line(`  ${cli} apply ${server} -f ${path.join(net, 'virtual-service-all-v1.yaml')}            # every user sees reviews v1 (no stars)`);
      progress.line(`  ${cli} apply ${server} -f ${path.join(net, 'virtual-service-reviews-test-v2.yaml')}    # sign in as jason: black stars`);
      progress.line(`  ${cli} apply ${server} -f ${path.join(net, 'virtual-service-ratings-test-delay.yaml')} # 7 s delay for jason: reviews unavailable after ~6 s`);
      progress.line(`  ${cli} apply ${server} -f ${path.join(net, 'virtual-service-reviews-50-v3.yaml')}      # half the users see red stars`);
      progress.line(`  ${cli} authn check ${server}    # every hop is mutual TLS (auto-mTLS; each proxy has its SPIFFE certificate)`);
      progress.line(`  ${cli} proxy-status ${server}   # every sidecar and the gateway: config SYNCED`);
      progress.line(`  or restart with: ${cli} demo --scenario NAME  (${Object.keys(SCENARIOS).join(', ')})`);
    }
    progress.line('Ctrl-C stops everything.');
    return done;
  },
};

/** What the multi-cluster demo prints once the postcard shows cluster-2's message. */
function printPostcard(progress: Progress, r: MulticlusterRunning, t0: number): void {
  const cli = path.resolve(process.cwd()) === path.resolve(packageRoot) ? 'npx bowline' : path.join(packageRoot, 'bin', 'bowline');
  const [one, two] = r.clusters;
  progress.line('');
  progress.line(`The postcard is up in ${seconds(performance.now() - t0)}: open ${r.postcardUrl}`);
  progress.line(`  greeter runs in ${one!.name} (${one!.network}); the message comes from messenger in ${two!.name} (${two!.network}), through ${two!.name}'s east-west gateway, mTLS end to end`);
  progress.line(`Logs: ${r.logDir}`);
  for (const c of r.clusters) progress.line(`Control plane of ${c.name}: ${c.apiUrl}   (dashboard ${c.apiUrl}/ui/)`);
  progress.line('');
  progress.line('Try next (in another terminal):');
  progress.line(`  ${cli} cluster list --server ${one!.apiUrl}        # ${two!.name}: synced, its services and endpoints`);
  progress.line(`  ${cli} proxy-config greeter.default endpoints --server ${one!.apiUrl}   # messenger = ${two!.name}'s east-west gateway`);
  progress.line(`  ${cli} get serviceentries -A --server ${one!.apiUrl}   # none: messenger was discovered, not written by hand`);
  progress.line('Ctrl-C stops everything.');
}
