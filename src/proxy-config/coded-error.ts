/**
 * The shape of the project's error catalogues (CA_ERRORS in ca/errors.ts, IDENTITY_ERRORS in
 * proxy/identity/errors.ts): a frozen object of stable BOWLINE_E_* codes and an Error class
 * whose message starts with the code. Users grep the code; tests and callers match `code`,
 * never the text. It lives with the proxy schema because both planes import this folder and
 * the codes cross between them (a refused CSR carries the CA's code to the proxy).
 */

/** The codes of a catalogue such as `CA_ERRORS`: the union of its values. */
export type CodeOf<T extends Readonly<Record<string, string>>> = T[keyof T];

/** A failure with a stable code; the message reads `CODE: what was wrong and what to do`. */
export class CodedError<C extends string = string> extends Error {
  constructor(readonly code: C, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
  }
}
