/**
 * The VM's systemd unit, `bowline-proxy.service`: capture installed as root before each start
 * (`ExecStartPre=+`, idempotent; nothing removes it on stop, so capture fails closed while the
 * proxy restarts), the proxy itself as the unprivileged `bowline-proxy` user, restarted always,
 * logging to the journal. Exec lines name the installed node and bowline by absolute path.
 */
import { proxyArgv } from '../../proxy/node-flags.js';

/** What the unit runs. */
export interface UnitInput {
  /** Absolute path of node and of the installed `bin/bowline`. */
  node: string;
  bowline: string;
  user: string;
  /** `bowline capture install` arguments (after `capture install`). */
  captureArgs: string[];
  /** `bowline proxy` arguments (after `proxy`). */
  proxyArgs: string[];
  /** Where bowline.env is (unprefixed: the path on the host the unit runs on). */
  envFile: string;
}

/** Name of the unit file. */
export const UNIT_NAME = 'bowline-proxy.service';

/** Quotes an argument for a systemd Exec line when it needs it. */
function arg(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `"${a.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** The unit file text. */
export function renderUnit(u: UnitInput): string {
  const line = (args: string[]) => [u.node, u.bowline, ...args].map(arg).join(' ');
  return `[Unit]
Description=Bowline proxy: this host's sidecar in the mesh (bowline join)
Documentation=https://github.com/bowline-mesh/bowline/blob/main/docs/platforms/vm.md
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
EnvironmentFile=${u.envFile}
# Capture before every start, as root (+); never removed on stop: while the proxy is down, captured traffic is refused.
ExecStartPre=+${line(['capture', 'install', ...u.captureArgs])}
ExecStart=${[u.node, ...proxyArgv(u.bowline, ['proxy', ...u.proxyArgs])].map(arg).join(' ')}
User=${u.user}
Group=${u.user}
Restart=always
RestartSec=2
StandardOutput=journal
StandardError=journal
NoNewPrivileges=true

[Install]
WantedBy=multi-user.target
`;
}
