import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** What Linux's /proc says about one process: its CPU time and its memory (resident now, and peak). */

let clockTicks: number | undefined;

/** Jiffies per second (CLK_TCK), for /proc/<pid>/stat's utime and stime. */
function ticksPerSecond(): number {
  clockTicks ??= Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  return clockTicks;
}

/** User + system CPU seconds the process has used since it started. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / ticksPerSecond();
}

export interface Memory {
  /** Resident set size now, MB. */
  rssMb: number;
  /** Peak resident set size since the process started (VmHWM), MB. */
  peakMb: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssMb: kb("VmRSS") / 1024, peakMb: kb("VmHWM") / 1024 };
}

/** Samples a process's CPU use (in cores) and memory while `work` runs. */
export class ProcessSampler {
  private lastCpu: number;
  private lastAt: number;

  constructor(private readonly pid: number) {
    this.lastCpu = cpuSeconds(pid);
    this.lastAt = performance.now();
  }

  /** CPU cores used since the previous sample (1.0 = one core busy all the time), and memory now. */
  sample(): { cores: number } & Memory {
    const cpu = cpuSeconds(this.pid);
    const at = performance.now();
    const cores = (cpu - this.lastCpu) / Math.max(1e-3, (at - this.lastAt) / 1000);
    this.lastCpu = cpu;
    this.lastAt = at;
    return { cores, ...memory(this.pid) };
  }
}
