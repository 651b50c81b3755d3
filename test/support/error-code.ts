// Test helpers: the code of the UltraError a call throws, or a promise rejects with (fail if none).
import { UltraError } from '../../runtime/errors.ts';

export function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof UltraError) return error.code;
    throw error;
  }
  throw new Error('expected an UltraError');
}

export async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UltraError) return error.code;
    throw error;
  }
  throw new Error('expected an UltraError');
}
