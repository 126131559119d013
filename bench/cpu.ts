/**
 * CPU time a process has used, for the benches' "CPU us per request" (one reader for every driver).
 *
 * The sum of its threads' run time from /proc/PID/task/TID/schedstat (nanoseconds). /proc/PID/stat's
 * utime+stime count 10 ms clock ticks: over a 6 s run at 1000 rps haproxy uses ~90 ms, nine ticks, so
 * one tick more or less moved its CPU per request by ~11 % and a ratio to it by as much. A thread
 * that exits between two reads loses its time (the proxies, haproxy and nginx keep theirs for the
 * whole run). Falls back to the ticks where the kernel has no schedstat.
 */
import { readdirSync, readFileSync } from 'node:fs';

function ticksUs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** CPU time of process `pid` in microseconds. */
export function cpuUs(pid: number): number {
  let ns = 0;
  let read = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      read++;
    } catch { /* thread gone, or no schedstat */ }
  }
  return read > 0 && Number.isFinite(ns) ? ns / 1000 : ticksUs(pid);
}

/** Read and write system calls of `pid` so far (/proc/PID/io: all its threads), or NaN when not readable. */
export function ioCalls(pid: number): number {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return Number(/syscr: (\d+)/.exec(io)?.[1]) + Number(/syscw: (\d+)/.exec(io)?.[1]);
  } catch { return NaN; }
}

/** Times the main thread of `pid` went to sleep waiting (voluntary context switches: an event loop waiting for I/O), or NaN. */
export function wakeups(pid: number): number {
  try {
    return Number(/\bvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8'))?.[1]);
  } catch { return NaN; }
}
