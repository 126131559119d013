/** A mesh controller on a fresh embedded store with the universal, ServiceEntry and manual registries (unit tests of the controller and of what reads it). */
import { rmSync } from 'node:fs';
import { defaultMeshConfig } from '../../src/api/index.js';
import { MeshController } from '../../src/mesh/controller.js';
import { ManualRegistry } from '../../src/registry/manual/manual.js';
import { AggregateRegistry } from '../../src/registry/registry.js';
import { ServiceEntryRegistry } from '../../src/registry/serviceentry/serviceentry.js';
import { UniversalRegistry } from '../../src/registry/universal/universal.js';
import { openEmbeddedStore, type Store } from '../../src/store/index.js';
import { tempDir } from './temp.js';

/** Starts it; `cleanup` gets what stops it and removes the store (run in reverse order). */
export async function startTestMeshController(cleanup: Array<() => unknown>): Promise<{ store: Store; controller: MeshController; universal: UniversalRegistry }> {
  const dir = tempDir('bowline-ctl-');
  const store: Store = await openEmbeddedStore({ dir });
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }), () => store.close());
  const universal = new UniversalRegistry(store);
  const controller = new MeshController({ store, registry: new AggregateRegistry([universal, new ServiceEntryRegistry(store), new ManualRegistry(store)]), mesh: defaultMeshConfig(), debounceMs: 10, maxDelayMs: 50 });
  await controller.start();
  cleanup.push(() => controller.stop());
  return { store, controller, universal };
}
