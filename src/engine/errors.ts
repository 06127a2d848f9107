// The engine's errors: one class, one list of string codes, shared by the C++ side (which
// throws them through the addon) and the TypeScript face (which validates first).

export const ErrorCodes = [
  'INVALID_SPEC', // the spec is wrong; `path` points at the field
  'INVALID_ARGUMENT', // a call got the wrong kind of argument
  'SHAPE_MISMATCH', // data or parameters do not fit the network
  'INVALID_DATA', // NaN/Infinity, a class outside the output layer, no rows
  'DIVERGED', // the cost or the parameters became NaN or infinite
  'CANCELLED', // cancel() stopped a run between mini-batches
  'BUSY', // a train() or evaluate() is still running on this trainer
  'INVALID_CHECKPOINT', // the bytes are not a checkpoint of this trainer
  'CHECKPOINT_CORRUPT', // a checkpoint's bytes do not match their checksum: damaged after it was written
  'INVALID_MODEL', // a saved model that cannot be read
  'MODEL_CORRUPT', // a saved model's content does not match its checksum: damaged after it was written
  'INTERNAL', // a bug: please report it
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

export class EngineError extends Error {
  override readonly name = 'EngineError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** JSON pointer to the spec field at fault, when there is one. */
    readonly path?: string,
  ) {
    super(message);
  }
}

function isErrorCode(code: unknown): code is ErrorCode {
  return ErrorCodes.includes(code as ErrorCode);
}

/**
 * An error thrown by the addon as an EngineError. `origin` is an Error made where the
 * caller called in, so a failure of background work points at the caller's code (as
 * sharp does) rather than at the event loop.
 */
export function fromNative(error: unknown, origin?: Error): EngineError {
  if (error instanceof EngineError) return error;
  const native = error as { code?: unknown; message?: unknown; path?: unknown };
  const code = isErrorCode(native.code) ? native.code : 'INTERNAL';
  const message = typeof native.message === 'string' ? native.message : String(error);
  const translated = new EngineError(code, message, typeof native.path === 'string' ? native.path : undefined);
  if (origin?.stack) translated.stack = `EngineError: ${message}\n${origin.stack.split('\n').slice(1).join('\n')}`;
  return translated;
}

/** Runs a synchronous addon call, translating its errors. */
export function callNative<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw fromNative(error);
  }
}

/** Awaits an addon promise, translating its errors with the caller's stack. */
export async function awaitNative<T>(call: () => Promise<T>): Promise<T> {
  const origin = new Error();
  try {
    return await call();
  } catch (error) {
    throw fromNative(error, origin);
  }
}
