// A readable record of one run: every scheduler event (its virtual time and label) interleaved with
// the notes the scenario and the runner add (operations, faults, violations). Only collected when
// asked for (--timeline), since a long run has many thousands of lines.

export class Timeline {
  readonly #lines: string[] = [];

  event(time: number, label: string): void {
    this.#lines.push(`${formatTime(time)}  ${label}`);
  }

  note(time: number, text: string): void {
    this.#lines.push(`${formatTime(time)}  · ${text}`);
  }

  lines(): readonly string[] {
    return this.#lines;
  }
}

function formatTime(ms: number): string {
  return `${ms.toFixed(3).padStart(10)} ms`;
}
