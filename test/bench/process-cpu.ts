// CPU time of benchmarked processes, read from /proc: steadier than throughput on a shared machine.
import { readFile } from 'node:fs/promises';

/** User + system CPU time (all threads) the processes have used, in µs; /proc counts clock ticks of 10 ms (fields 14 and 15). */
export async function cpuMicros(pids: readonly number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10_000;
}
