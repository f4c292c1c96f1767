/**
 * The few errors the domain raises. The HTTP layer maps each code to one status
 * (server/http/errors.ts); vendor errors are translated before they get here.
 */
export type ErrorCode =
  | 'invalid'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'too_large'
  | 'rate_limited'
  | 'unsupported_media_type'
  /** A service mlgit needs (the object store) cannot be reached now; retryAfterSeconds says when to try again. */
  | 'unavailable';

export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export const invalid = (message: string) => new DomainError('invalid', message);
export const notFound = (what: string) => new DomainError('not_found', `${what} not found`);
export const forbidden = (message: string) => new DomainError('forbidden', message);
export const conflict = (message: string) => new DomainError('conflict', message);
export const unauthenticated = (message = 'authentication required') => new DomainError('unauthenticated', message);
