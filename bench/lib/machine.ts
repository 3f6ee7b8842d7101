import { execFileSync } from 'node:child_process';
import os from 'node:os';

export interface MachineInfo {
  cpu: string;
  cores: number;
  mem_gb: number;
  disk_fs: string;
  disk_device: string;
  tmpdir: string;
  kernel: string;
  node: string;
  git: string;
  bench_mode: 'full' | 'quick';
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function machineInfo(quick: boolean): MachineInfo {
  const df = run('df', ['-T', os.tmpdir()]).split('\n')[1]?.split(/\s+/) ?? [];
  const cores = Number(run('nproc', [])) || os.availableParallelism();
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores,
    mem_gb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    disk_fs: df[1] ?? 'unknown',
    disk_device: df[0] ?? 'unknown',
    tmpdir: os.tmpdir(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    git: run('git', ['--version']).replace(/^git version /, ''),
    bench_mode: quick ? 'quick' : 'full',
  };
}
