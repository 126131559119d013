import type { ServerResponse } from 'node:http';

/** One reason a request was refused, in Kubernetes' StatusCause shape (plus line/column for YAML input). */
export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
  line?: number;
  column?: number;
}

/** Kubernetes' Status object, the body of every error answer. */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  code: number;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[] };
}

/** An error the API answers with a Status object; thrown anywhere in a handler. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Status['details']) {
    super(message);
  }

  /** The Status body of this error. */
  toStatus(): Status {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, code: this.code, ...(this.details ? { details: this.details } : {}) };
  }
}

/** 400: the request itself is malformed. */
export const badRequest = (message: string, causes?: StatusCause[]) => new ApiError(400, 'BadRequest', message, causes ? { causes } : undefined);

/** 404 for a path that names nothing the server serves. */
export const noSuchPath = () => new ApiError(404, 'NotFound', 'the server could not find the requested resource');

/** Writes a JSON body with status `code`. */
export function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const data = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

/** Writes an ApiError as a Status object. */
export function sendError(res: ServerResponse, err: ApiError): void {
  sendJson(res, err.code, err.toStatus());
}
