/**
 * HTTP/2 error codes (RFC 9113 Section 7) and the errors the codec throws. An H2Error with
 * streamId 0 is a connection error (GOAWAY with its code); with a stream id, a stream error
 * (RST_STREAM on that stream only). HPACK failures are always connection errors
 * (COMPRESSION_ERROR): the decoder's state can no longer be trusted.
 */

/** RFC 9113 Section 7 error codes. */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** The name of an error code (for messages and logs), or `0x..` when unknown. */
export function errorName(code: number): string {
  for (const [k, v] of Object.entries(ErrorCode)) if (v === code) return k;
  return '0x' + code.toString(16);
}

/** A protocol error: a connection error when `streamId` is 0, else a stream error. */
export class H2Error extends Error {
  constructor(readonly code: number, message: string, readonly streamId = 0) {
    super(`${errorName(code)}: ${message}`);
    this.name = 'H2Error';
  }
}

/** An HPACK decoding failure (RFC 7541): a connection error COMPRESSION_ERROR. */
export class HpackError extends H2Error {
  constructor(message: string) {
    super(ErrorCode.COMPRESSION_ERROR, message);
    this.name = 'HpackError';
  }
}
