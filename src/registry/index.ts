/** Registries: one interface, one folder per source. */
export * from './registry.js';
export { UniversalRegistry, announcementsView, universalKey, UNIVERSAL_PREFIX, type Announcement, type Registration, type UniversalOptions } from './universal/universal.js';
export { ServiceEntryRegistry, serviceEntryView } from './serviceentry/serviceentry.js';
export { ManualRegistry, manualView, parsePorts, registerManual, unregisterManual, manualKey, MANUAL_PREFIX, type ManualRegistration } from './manual/manual.js';
