import { describe, expect, it } from 'vitest';
import { scopeAllows, scopeNeeded } from './access.js';

const VS = '/apis/networking.istio.io/v1/namespaces/default/virtualservices';
const SE = '/apis/networking.istio.io/v1/namespaces/default/serviceentries';

describe('scopeAllows', () => {
  it.each([
    // scope, method, path, allowed
    ['admin', 'DELETE', '/v1/store/backup', true],
    ['read-only', 'GET', VS, true],
    ['read-only', 'GET', '/debug/syncz', true],
    ['read-only', 'GET', '/debug/config_dump', false],
    ['read-only', 'GET', '/v1/store/backup', false],
    ['read-only', 'GET', '/v1/auth/tokens', false],
    ['read-only', 'GET', '/v1/auth/whoami', true],
    ['read-only', 'POST', '/v1/tokens', false],
    ['read-only', 'PATCH', `${VS}/reviews`, false],
    ['registry-read', 'GET', '/debug/registryz', true],
    ['registry-read', 'GET', `${SE}/ext`, true],
    ['registry-read', 'GET', '/apis/networking.istio.io/v1/workloadentries', true],
    ['registry-read', 'GET', `${SE}/ext/status`, false],
    ['registry-read', 'GET', VS, false],
    ['registry-read', 'GET', '/api/v1/namespaces/default/secrets', false],
    ['registry-read', 'GET', '/debug/configz', false],
    ['viewer', 'GET', '/ui/api/graph', true],
    ['viewer', 'HEAD', '/ui/api/graph', true],
    ['viewer', 'GET', '/metrics', false],
    ['viewer', 'GET', VS, false],
    ['replica', 'GET', '/debug/syncz', true],
    ['replica', 'GET', '/debug/config_dump', true],
    ['replica', 'GET', '/debug/statsz', true],
    ['replica', 'POST', '/debug/syncz', false],
    ['replica', 'GET', '/debug/explain', false],
    ['replica', 'GET', '/debug/registryz', false],
    ['replica', 'GET', VS, false],
    ['replica', 'GET', '/v1/store/backup', false],
    ['none', 'GET', '/ui/api/graph', false],
  ] as const)('%s %s %s -> %s', (scope, method, path, allowed) => {
    expect(scopeAllows(scope, method, path)).toBe(allowed);
  });

  it('names the narrowest scope a refused call needs', () => {
    expect(scopeNeeded('GET', '/ui/api/graph')).toBe('viewer');
    expect(scopeNeeded('GET', SE)).toBe('registry-read');
    expect(scopeNeeded('GET', VS)).toBe('read-only');
    expect(scopeNeeded('POST', VS)).toBe('admin');
  });
});
