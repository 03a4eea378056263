// The transparency log layer's public surface (Rekor v1-compatible log, client, offline verification).
// See ARCHITECTURE.md "tlog/"; formats per ../shared/specs/sigstore-servers.md.

export {
  createLogServer,
  type LogServerOptions,
  type RekorApiOptions,
  registerRekorApi,
  rekorApiPlugin,
} from './api.js';
export * from './checkpoint.js';
export {
  type IdentitySearch,
  type IndexQuery,
  type LogInfo,
  RekorClient,
  type RekorClientOptions,
} from './client.js';
export * from './entry.js';
export {
  type LogKeyDetails,
  type LogSigner,
  loadOrCreateLogKey,
  logIdOf,
  verifyLogSignature,
} from './logkey.js';
export { type AppendResult, type OpenLogOptions, openLog, TransparencyLog } from './log.js';
export * as merkle from './merkle.js';
export { type CheckpointState, type MonitorEvent, type MonitorOptions, monitorOnce } from './monitor.js';
export type {
  LogStorage,
  SearchKeys,
  SearchPage,
  SearchQuery,
  StoredEntry,
  TreeHead,
} from './storage/storage.js';
export { trustedRootFor, trustedRootTlog } from './trustroot.js';
export { decodeBody, type PreparedEntry, type ProposedEntry, pae, prepareEntry } from './types/index.js';
export {
  type EntryExpectation,
  entryMatches,
  type TrustedLog,
  trustedLogFromPem,
  trustedLogsFromRoot,
  verifyEntry,
  verifyInclusion,
  verifySET,
  verifyUuid,
} from './verify.js';
