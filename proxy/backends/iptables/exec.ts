// The tool runner lives in ../common (every backend runs its kernel tools the same way).
export { inputText, processRunner, netnsRunner, type Runner, type RunResult, type RunOptions } from '../common/exec.ts';
