/** The zmx release; kept in step with package.json by a unit test. */
export const VERSION = '0.1.0';

/** The wire protocol's version (common/protocol.ts): bumped on any incompatible change. A peer states the range it speaks. */
export const PROTOCOL_VERSION = 1;
/** The oldest protocol version this build still speaks. */
export const MIN_PROTOCOL_VERSION = 1;
