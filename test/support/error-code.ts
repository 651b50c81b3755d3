// Test helper: runs `fn` and returns the code of the UltraError it throws (fails if it throws none).
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
