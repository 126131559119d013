import { bowlineVersion } from '../proxy-config/version.js';

export { bowlineVersion };

/** The Kubernetes API level the config API follows (what `/version` reports as major.minor, so kubectl's skew checks pass). */
export const KUBERNETES_API_LEVEL = { major: '1', minor: '31' };

/** `/version` in Kubernetes' shape: the API level, with Bowline's own version as semver build metadata. */
export function kubernetesVersion(): Record<string, string> {
  const { major, minor } = KUBERNETES_API_LEVEL;
  return {
    major, minor, gitVersion: `v${major}.${minor}.0+bowline.${bowlineVersion()}`, gitCommit: '', gitTreeState: 'clean',
    buildDate: '1970-01-01T00:00:00Z', goVersion: `node ${process.version}`, compiler: 'node', platform: `${process.platform}/${process.arch}`,
  };
}
