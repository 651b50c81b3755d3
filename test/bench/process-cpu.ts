// CPU time of benchmarked processes, read from /proc: steadier than throughput on a shared machine.
import { readFile } from 'node:fs/promises';

/** User + system CPU time (all threads) the processes have used, in µs. */
export async function cpuMicros(pids: readonly number[]): Promise<number> {
  const { user, system } = await cpuMicrosSplit(pids);
  return user + system;
}

/** User and system (kernel: syscalls, loopback TCP, fsync) CPU time apart, in µs; /proc counts clock ticks of 10 ms (fields 14 and 15). */
export async function cpuMicrosSplit(pids: readonly number[]): Promise<{ user: number; system: number }> {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The fields after the parenthesised command name, which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    user += Number(fields[11]);
    system += Number(fields[12]);
  }
  return { user: user * 10_000, system: system * 10_000 };
}
