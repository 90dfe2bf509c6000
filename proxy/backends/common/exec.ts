// The backends run the kernel tools through the one Runner of ../../exec.ts.
export { inputText, netnsRunner, processRunner, type RunOptions, type RunResult, type Runner } from '../../exec.ts';
