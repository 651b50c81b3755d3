// Bounds peer-controlled text before it goes into an error, so a hostile frame cannot make the
// error (and the log line that carries it) as large as the frame itself.

const MAX_CLIPPED_CHARS = 80;

/** `text` cut to a fixed length, marked with how many characters were left out. */
export function clipText(text: string): string {
  if (text.length <= MAX_CLIPPED_CHARS) return text;
  return `${text.slice(0, MAX_CLIPPED_CHARS)}… (${text.length - MAX_CLIPPED_CHARS} more chars)`;
}
